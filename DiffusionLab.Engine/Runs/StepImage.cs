using DiffusionLab.Engine.Imaging;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// One image of a reported step: the pixels the solver's thread copied out of libtorch (managed
/// floats, no native memory) and their lossless PNG, encoded once, on first use, by whoever asks
/// first (the web's encoder task, off the solver's thread). A kept keyframe holds only its PNG
/// (<see cref="Encoded"/>), and so does a step read back from the run store.
/// </summary>
public sealed class StepImage
{
    readonly Lazy<byte[]> png;

    StepImage(PixelImage? pixels, Lazy<byte[]> png)
    {
        Pixels = pixels;
        this.png = png;
    }

    public static StepImage Of(PixelImage pixels) => new(pixels, new Lazy<byte[]>(() => FrameEncoder.Encode(pixels)));

    public static StepImage FromPng(byte[] png) => new(null, new Lazy<byte[]>(png));

    /// <summary>[C, H, W] in [-1, 1], unclipped; null once only the PNG is kept.</summary>
    public PixelImage? Pixels { get; }

    /// <summary>The image as PNG bytes (clipped to [-1, 1] and quantised to 8 bits).</summary>
    public byte[] Png => png.Value;

    /// <summary>The same image holding only its PNG (encoding it now if needed), so a kept frame costs bytes, not floats.</summary>
    public StepImage Encoded() => Pixels is null ? this : FromPng(Png);
}
