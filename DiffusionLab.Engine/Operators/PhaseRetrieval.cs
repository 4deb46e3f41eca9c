using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Phase retrieval (a diffraction experiment): y = |F pad(x')|, the magnitude of the Fourier
/// transform of the image placed in a larger black frame, with x' = (x + 1)/2 the image in
/// [0, 1] (as in DPS, so the frame is black and the object non-negative). The phase is lost,
/// so A is nonlinear and has no adjoint; DPS only needs its autograd.
/// </summary>
/// <remarks>
/// Oversampling s means the framed image is s times the image's side (the usual meaning;
/// DPS's code pads less, to 1.5× at its "oversample 2"). The magnitudes are fftshifted so the
/// zero frequency sits in the middle, as a diffraction pattern is drawn, and the panels show
/// them on a log scale. The back-projection (SDEdit's guide) is plain grey: the magnitudes alone give no picture of the image worth showing (a naive
/// zero-phase inverse is the image's autocorrelation, which misleads more than it shows).
/// </remarks>
public sealed class PhaseRetrieval : MeasurementOperator
{
    public const string CatalogId = "phase-retrieval";
    readonly long[] framePadding; // left, right, top, bottom

    public PhaseRetrieval(long[] sampleShape, double oversampling)
        : base(CatalogId, sampleShape, FramedShape(sampleShape, oversampling))
    {
        Oversampling = oversampling;
        var (_, height, width) = RequireImageShape(sampleShape, CatalogId);
        long extraRows = OutputShape[1] - height, extraColumns = OutputShape[2] - width;
        framePadding = [extraColumns / 2, extraColumns - extraColumns / 2, extraRows / 2, extraRows - extraRows / 2];
    }

    public double Oversampling { get; }
    public override bool IsLinear => false;

    static long[] FramedShape(long[] sampleShape, double oversampling)
    {
        var (channels, height, width) = RequireImageShape(sampleShape, CatalogId);
        if (!(oversampling >= 1)) throw new ArgumentOutOfRangeException(nameof(oversampling), "The oversampling must be at least 1 (1 means no black frame).");
        return [channels, (long)Math.Round(oversampling * height), (long)Math.Round(oversampling * width)];
    }

    protected override Tensor ApplyForward(Tensor x)
    {
        var framed = pad(x.Plus(1).DividedBy(2), framePadding);
        return fft.fftshift(fft.fft2(framed, norm: FFTNormType.Ortho).abs(), [-2, -1]);
    }

    protected override Tensor ApplyAdjoint(Tensor y) => throw new NotSupportedException("phase retrieval has no adjoint");

    protected override Tensor ApplyBackProject(Tensor y) => zeros([y.shape[0], .. InputShape], y.dtype, y.device);

    /// <summary>y drawn as what it is: the diffraction pattern, on a log scale (already fftshifted).</summary>
    protected override Tensor ApplyPicture(Tensor y) => LogMagnitudePicture(y);

    /// <summary>Without the phase there is no estimate from y alone worth a number.</summary>
    protected override Tensor? ApplyNaiveEstimate(Tensor y) => null;

    public override string NaiveEstimateName => "none: the phase is lost";
}
