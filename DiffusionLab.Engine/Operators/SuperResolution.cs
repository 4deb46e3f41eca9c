using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Super-resolution: y is the image shrunk by an integer factor, each low-resolution pixel
/// the average of a factor × factor block. Rows or columns left over when the size is not a
/// multiple of the factor are not seen.
/// </summary>
/// <remarks>
/// Averaging is A; its exact adjoint copies each value back over its block divided by
/// factor² (nearest upsampling / factor²), zero on the leftover rows. The back-projection for
/// display is a bicubic upsampling, which looks like the blurry picture a student expects.
/// DPS downsamples with an antialiased bicubic filter; block averaging keeps Aᵀ exact and simple.
/// </remarks>
public sealed class SuperResolution : MeasurementOperator
{
    public const string CatalogId = "super-resolution";
    readonly long height, width, lowHeight, lowWidth;

    public SuperResolution(long[] sampleShape, int factor)
        : base(CatalogId, sampleShape, LowResolutionShape(sampleShape, factor))
    {
        Factor = factor;
        (_, height, width) = RequireImageShape(sampleShape, CatalogId);
        lowHeight = OutputShape[1];
        lowWidth = OutputShape[2];
    }

    public int Factor { get; }

    static long[] LowResolutionShape(long[] sampleShape, int factor)
    {
        var (channels, height, width) = RequireImageShape(sampleShape, CatalogId);
        if (factor < 1 || factor > Math.Min(height, width))
            throw new ArgumentOutOfRangeException(nameof(factor), $"The shrink factor must be between 1 and {Math.Min(height, width)} for a {height}×{width} image.");
        return [channels, height / factor, width / factor];
    }

    protected override Tensor ApplyForward(Tensor x) => avg_pool2d(x, [Factor, Factor]);

    protected override Tensor ApplyAdjoint(Tensor y)
    {
        var spread = y.repeat_interleave(Factor, 2).repeat_interleave(Factor, 3).DividedBy(Factor * Factor);
        return PadLeftovers(spread, PaddingModes.Constant);
    }

    protected override Tensor ApplyBackProject(Tensor y)
    {
        var upsampled = interpolate(y, [lowHeight * Factor, lowWidth * Factor], mode: InterpolationMode.Bicubic, align_corners: false);
        return PadLeftovers(upsampled, PaddingModes.Replicate);
    }

    /// <summary>
    /// Block averaging has A Aᵀ = I/factor², so A⁺ = factor²·Aᵀ: each low-resolution pixel copied
    /// over its block (nearest upsampling), grey on leftover rows that were never seen.
    /// </summary>
    protected override Tensor ApplyNaiveEstimate(Tensor y) => ApplyAdjoint(y).Times(Factor * Factor);

    public override string NaiveEstimateName => "A⁺y: each pixel copied over its block";

    Tensor PadLeftovers(Tensor image, PaddingModes mode)
    {
        long extraRows = height - lowHeight * Factor, extraColumns = width - lowWidth * Factor;
        if (extraRows == 0 && extraColumns == 0) return image;
        return pad(image, [0, extraColumns, 0, extraRows], mode);
    }
}
