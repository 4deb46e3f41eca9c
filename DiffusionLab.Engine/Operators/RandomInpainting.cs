using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Random inpainting: a seeded share of the pixels is missing, the same pixels in every
/// channel. Exactly round(fraction × pixels) are dropped, so the share is the one asked for.
/// Works for flat [D] samples too (then each coordinate is a "pixel").
/// </summary>
public sealed class RandomInpainting(long[] sampleShape, double fractionMissing, int seed)
    : PixelMask(CatalogId, sampleShape, BuildMask(sampleShape, fractionMissing, seed))
{
    public const string CatalogId = "random-inpainting";

    static Tensor BuildMask(long[] sampleShape, double fractionMissing, int seed)
    {
        if (fractionMissing < 0 || fractionMissing > 1)
            throw new ArgumentOutOfRangeException(nameof(fractionMissing), "The missing share must be between 0 and 1.");
        long[] shape = MaskShape(sampleShape);
        long pixels = shape.Aggregate(1L, (a, b) => a * b);
        long missing = (long)Math.Round(fractionMissing * pixels);
        using var generator = SeededGenerator(seed, CatalogId);
        using var order = randperm(pixels, generator: generator);
        using var dropped = order.narrow(0, 0, missing);
        using var flat = ones(pixels, float64);
        using var zero = 0.0.ToScalar();
        flat.index_fill_(0, dropped, zero);
        return flat.reshape(shape);
    }
}
