using System.Numerics;
using System.Text.Json.Serialization;

namespace DiffusionLab.Engine.Generators;

/// <summary>
/// The size of a convolutional generator and of the networks trained beside it (the VAE's encoder,
/// the GAN's discriminator). The generator starts from a 4 × 4 map of 2^(levels−1)·Width channels and
/// doubles the resolution while halving the channels until the image size, as DCGAN does
/// (Radford et al. 2016); the encoder and the discriminator mirror it on the way down.
/// </summary>
/// <param name="ImageSize">Side of the square images: a power of two, at least 8.</param>
/// <param name="Channels">Colour channels (3 for RGB).</param>
/// <param name="LatentDimension">Length of z.</param>
/// <param name="Width">Channels of the last hidden map (at half the image size); the others are multiples of it.</param>
public sealed record GeneratorConfig(int ImageSize = 32, int Channels = 3, int LatentDimension = 64, int Width = 64)
{
    /// <summary>The configuration the bundled generators are trained with: 32 × 32 RGB, z ∈ ℝ⁶⁴, width 64.</summary>
    public static readonly GeneratorConfig Faces32 = new();

    /// <summary>A configuration small enough for tests: 8 × 8, z ∈ ℝ⁴, width 8.</summary>
    public static GeneratorConfig Tiny(int imageSize = 8) => new(imageSize, 3, 4, 8);

    /// <summary>Number of resolution doublings from 4 × 4 to the image size.</summary>
    [JsonIgnore]
    public int Levels => BitOperations.Log2((uint)ImageSize) - 2;

    /// <summary>Channels of the hidden map at 4·2^level × 4·2^level (level 0 is 4 × 4, level Levels−1 is half the image size).</summary>
    public int ChannelsAt(int level) => Width << (Levels - 1 - level);

    [JsonIgnore]
    public long[] SampleShape => [Channels, ImageSize, ImageSize];

    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (ImageSize < 8 || ImageSize > 256 || !BitOperations.IsPow2(ImageSize)) problems.Add($"the image size must be a power of two from 8 to 256, not {ImageSize}");
        if (Channels is not (1 or 3)) problems.Add($"the images have 1 or 3 channels, not {Channels}");
        if (LatentDimension is < 1 or > 1024) problems.Add($"the latent dimension must lie between 1 and 1024, not {LatentDimension}");
        if (Width is < 1 or > 512) problems.Add($"the width must lie between 1 and 512, not {Width}");
        return problems;
    }

    internal void Validate()
    {
        var problems = Problems();
        if (problems.Count > 0) throw new ArgumentException("invalid generator configuration: " + string.Join("; ", problems));
    }
}
