using static TorchSharp.torch;

namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// An image as plain numbers, channel-major [C, H, W], values in [-1, 1]: how images leave
/// the engine (to the web app, the run store, the CLI) without carrying native tensors.
/// </summary>
public sealed record PixelImage(int Channels, int Height, int Width, float[] Values)
{
    /// <summary>Copies one sample of a batch [B, C, H, W] (or a single [C, H, W]) to managed memory.</summary>
    public static PixelImage FromTensor(Tensor image, long index = 0)
    {
        using var scope = NewDisposeScope();
        var t = image.dim() == 4 ? image[index] : image;
        if (t.dim() != 3) throw new ArgumentException($"expected an image tensor [C, H, W], got [{string.Join(", ", t.shape)}]", nameof(image));
        var values = t.detach().to(float32).cpu().contiguous().data<float>().ToArray();
        return new PixelImage((int)t.shape[0], (int)t.shape[1], (int)t.shape[2], values);
    }

    /// <summary>A new tensor [1, C, H, W] on the given device.</summary>
    public Tensor ToTensor(Device? device = null) =>
        tensor(Values, [1, Channels, Height, Width], dtype: float32, device: device ?? CPU);
}
