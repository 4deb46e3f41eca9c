using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>Where the missing box goes.</summary>
public enum BoxPlacement
{
    /// <summary>In the middle of the image.</summary>
    Centre,
    /// <summary>At a position drawn from the run's seed, at least a margin away from the edges (as DPS does).</summary>
    Random,
    /// <summary>With its top-left corner at a chosen pixel.</summary>
    AtPosition,
}

/// <summary>Box inpainting: a square hole in the picture, the same hole in every channel.</summary>
public sealed class BoxInpainting : PixelMask
{
    public const string CatalogId = "box-inpainting";

    public BoxInpainting(long[] sampleShape, int boxSize, BoxPlacement placement, int left = 0, int top = 0, int margin = 0, int seed = 0)
        : base(CatalogId, sampleShape, BuildMask(sampleShape, boxSize, placement, left, top, margin, seed, out var box))
    {
        Box = box;
    }

    /// <summary>The hole as (left, top, width, height) in pixels, clipped to the image.</summary>
    public (long Left, long Top, long Width, long Height) Box { get; }

    static Tensor BuildMask(long[] sampleShape, int boxSize, BoxPlacement placement, int left, int top, int margin, int seed,
        out (long Left, long Top, long Width, long Height) box)
    {
        var (_, height, width) = RequireImageShape(sampleShape, CatalogId);
        if (boxSize < 1) throw new ArgumentOutOfRangeException(nameof(boxSize), "The box needs at least one pixel.");
        long boxHeight = Math.Min(boxSize, height), boxWidth = Math.Min(boxSize, width);
        long row, col;
        switch (placement)
        {
            case BoxPlacement.Centre:
                row = (height - boxHeight) / 2;
                col = (width - boxWidth) / 2;
                break;
            case BoxPlacement.Random:
                row = RandomStart(height, boxHeight, margin, seed, "box-row");
                col = RandomStart(width, boxWidth, margin, seed, "box-column");
                break;
            case BoxPlacement.AtPosition:
                row = Math.Clamp(top, 0, height - boxHeight);
                col = Math.Clamp(left, 0, width - boxWidth);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(placement));
        }
        box = (col, row, boxWidth, boxHeight);
        var mask = ones([1, 1, height, width], float64);
        mask[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(row, row + boxHeight), TensorIndex.Slice(col, col + boxWidth)] = 0.0;
        return mask;
    }

    /// <summary>A start drawn uniformly among those keeping the box <paramref name="margin"/> pixels from both edges (less if it does not fit).</summary>
    static long RandomStart(long size, long boxSize, int margin, int seed, string purpose)
    {
        long slack = size - boxSize;
        long usableMargin = Math.Clamp(margin, 0, slack / 2);
        long choices = slack - 2 * usableMargin + 1;
        using var generator = SeededGenerator(seed, purpose);
        using var draw = randint(0, choices, [1], int64, generator: generator);
        return usableMargin + draw.item<long>();
    }
}
