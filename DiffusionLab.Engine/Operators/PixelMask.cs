using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Inpainting: y = m ⊙ x with a 0/1 mask m, one mask shared by every channel of a pixel.
/// y keeps the image's shape with zeros where nothing was seen, so A is an orthogonal
/// projection (Aᵀ = A) and the back-projection shows missing pixels as mid-grey (0 in [-1, 1]).
/// Its SVD keeps the pixel basis (V = I, U = I on the seen pixels): each pixel's singular value is
/// 1 where it is seen and 0 where it is missing.
/// </summary>
public abstract class PixelMask : MeasurementOperator, ISvdMeasurement
{
    readonly Tensor mask; // [1, 1, H, W] for images, [1, ..shape] otherwise
    readonly Tensor singularValues; // the mask over every channel, [..shape]

    /// <param name="observed">The mask, 1 where seen; this operator keeps a copy and disposes the tensor given.</param>
    protected PixelMask(string id, long[] sampleShape, Tensor observed) : base(id, sampleShape, sampleShape)
    {
        long[] expected = MaskShape(sampleShape);
        if (!observed.shape.SequenceEqual(expected))
            throw new ArgumentException($"mask shape [{string.Join(", ", observed.shape)}] does not match [{string.Join(", ", expected)}]", nameof(observed));
        mask = Keep(observed);
        observed.Dispose();
        using (var perValue = mask.expand([1, .. sampleShape]).reshape(sampleShape))
            singularValues = Keep(perValue);
        using var observedCount = mask.sum();
        ObservedFraction = observedCount.item<double>() / mask.numel();
    }

    /// <summary>The mask, 1 where a pixel is seen (float64, owned by this operator; do not dispose).</summary>
    public Tensor Mask => mask;

    /// <summary>Share of pixels that are seen.</summary>
    public double ObservedFraction { get; }

    /// <summary>[1, 1, H, W] for a [C, H, W] image (one mask for all channels); [1, ..shape] for anything else.</summary>
    protected static long[] MaskShape(long[] sampleShape) =>
        sampleShape.Length == 3 ? [1, 1, sampleShape[1], sampleShape[2]] : [1, .. sampleShape];

    protected override Tensor ApplyForward(Tensor x) => x * mask.to(x);
    protected override Tensor ApplyAdjoint(Tensor y) => y * mask.to(y);
    protected override Tensor ApplyBackProject(Tensor y) => y * mask.to(y);

    /// <summary>A is an orthogonal projection, so A⁺ = A: the seen pixels as they are, grey where nothing was seen.</summary>
    public override string NaiveEstimateName => "A⁺y: the seen pixels, grey in the holes";
    public long[] SpectralShape => InputShape;
    public Tensor SingularValues => singularValues;
    public Tensor ToSpectral(Tensor x) => x.clone();
    public Tensor FromSpectral(Tensor spectral) => spectral.clone();
    public Tensor MeasurementToSpectral(Tensor y) => Scoped(() => y * mask.to(y));
    public Tensor SpectralToMeasurement(Tensor spectral) => Scoped(() => spectral * mask.to(spectral));
}
