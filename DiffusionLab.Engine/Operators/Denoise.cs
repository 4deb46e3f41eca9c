using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Denoising: A is the identity, so y = x + noise. Works for any sample shape, flat vectors included.
/// Its SVD is the trivial one: U = V = I and every singular value is 1.
/// </summary>
public sealed class Denoise : MeasurementOperator, ISvdMeasurement
{
    public const string CatalogId = "denoise";
    readonly Tensor singularValues;

    public Denoise(long[] sampleShape) : base(CatalogId, sampleShape, sampleShape)
    {
        using var one = ones(sampleShape, float64);
        singularValues = Keep(one);
    }

    protected override Tensor ApplyForward(Tensor x) => x.clone();
    protected override Tensor ApplyAdjoint(Tensor y) => y.clone();
    protected override Tensor ApplyBackProject(Tensor y) => y.clone();
    public override string NaiveEstimateName => "y itself (A = I, so A⁺y = y)";

    public long[] SpectralShape => InputShape;
    public Tensor SingularValues => singularValues;
    public Tensor ToSpectral(Tensor x) => x.clone();
    public Tensor FromSpectral(Tensor spectral) => spectral.clone();
    public Tensor MeasurementToSpectral(Tensor y) => y.clone();
    public Tensor SpectralToMeasurement(Tensor spectral) => spectral.clone();
}
