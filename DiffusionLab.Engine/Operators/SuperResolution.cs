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
/// Its SVD works block by block: the Helmert basis of each factor × factor block is V (its first
/// coordinate, the block sum over factor, has singular value 1/factor; the others and the leftover
/// rows have 0). The spectral coordinates keep the image's layout, coordinate j of a block at the
/// block's pixel j (row-major), so the block's first coordinate sits at its top-left pixel.
/// </remarks>
public sealed class SuperResolution : MeasurementOperator, ISvdMeasurement
{
    public const string CatalogId = "super-resolution";
    readonly long channels, height, width, lowHeight, lowWidth;
    readonly Tensor blockBasis;     // [f², f²], Helmert
    readonly Tensor singularValues; // [C, H, W]
    readonly Tensor firstOfBlock;   // [1, 1, 1, f, 1, f], 1 at a block's first coordinate

    public SuperResolution(long[] sampleShape, int factor)
        : base(CatalogId, sampleShape, LowResolutionShape(sampleShape, factor))
    {
        Factor = factor;
        (channels, height, width) = RequireImageShape(sampleShape, CatalogId);
        lowHeight = OutputShape[1];
        lowWidth = OutputShape[2];
        using var scope = NewDisposeScope();
        blockBasis = Keep(HelmertBasis.Matrix(factor * factor));
        var first = zeros([1, 1, 1, factor, 1, factor], float64);
        first[0, 0, 0, 0, 0, 0] = tensor(1.0, float64);
        firstOfBlock = Keep(first);
        var perBlock = ones([1, channels, lowHeight, lowWidth], float64).DividedBy(factor);
        singularValues = Keep(SpreadFirstCoordinates(perBlock).squeeze(0));
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

    public long[] SpectralShape => InputShape;
    public Tensor SingularValues => singularValues;

    public Tensor ToSpectral(Tensor x) => Scoped(() => InBlocks(x, blockBasis.to(x).t()));

    public Tensor FromSpectral(Tensor spectral) => Scoped(() => InBlocks(spectral, blockBasis.to(spectral)));

    public Tensor MeasurementToSpectral(Tensor y) => Scoped(() => SpreadFirstCoordinates(y));

    public Tensor SpectralToMeasurement(Tensor spectral) => Scoped(() =>
        spectral.narrow(2, 0, lowHeight * Factor).narrow(3, 0, lowWidth * Factor)
            .reshape(spectral.shape[0], channels, lowHeight, Factor, lowWidth, Factor).select(3, 0).select(4, 0).contiguous());

    /// <summary>Each block's f² values times <paramref name="rightFactor"/> (Qᵀ maps pixels to coordinates, Q back); leftover rows and columns pass unchanged.</summary>
    Tensor InBlocks(Tensor image, Tensor rightFactor)
    {
        long batch = image.shape[0], n = Factor * Factor;
        var core = image.narrow(2, 0, lowHeight * Factor).narrow(3, 0, lowWidth * Factor)
            .reshape(batch, channels, lowHeight, Factor, lowWidth, Factor).permute(0, 1, 2, 4, 3, 5).reshape(batch, channels, lowHeight, lowWidth, n);
        var mapped = core.matmul(rightFactor).reshape(batch, channels, lowHeight, lowWidth, Factor, Factor)
            .permute(0, 1, 2, 4, 3, 5).reshape(batch, channels, lowHeight * Factor, lowWidth * Factor);
        var result = image.clone();
        result.narrow(2, 0, lowHeight * Factor).narrow(3, 0, lowWidth * Factor).copy_(mapped);
        return result;
    }

    /// <summary>Low-resolution values [B, C, h, w] placed at their blocks' first coordinates, zero elsewhere: [B, C, H, W].</summary>
    Tensor SpreadFirstCoordinates(Tensor low)
    {
        long batch = low.shape[0];
        var spread = (low.unsqueeze(3).unsqueeze(5) * firstOfBlock.to(low)).reshape(batch, channels, lowHeight * Factor, lowWidth * Factor);
        return PadLeftovers(spread, PaddingModes.Constant);
    }
}
