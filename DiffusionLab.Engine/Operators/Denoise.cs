using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>Denoising: A is the identity, so y = x + noise. Works for any sample shape, flat vectors included.</summary>
public sealed class Denoise(long[] sampleShape) : MeasurementOperator(CatalogId, sampleShape, sampleShape)
{
    public const string CatalogId = "denoise";

    protected override Tensor ApplyForward(Tensor x) => x.clone();
    protected override Tensor ApplyAdjoint(Tensor y) => y.clone();
    protected override Tensor ApplyBackProject(Tensor y) => y.clone();
    public override string NaiveEstimateName => "y itself (A = I, so A⁺y = y)";
}
