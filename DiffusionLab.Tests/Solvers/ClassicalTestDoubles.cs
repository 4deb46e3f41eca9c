using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// The prior N(0, s²I). Its noisy marginal is N(0, (ᾱs² + 1 − ᾱ) I), so the exact ε-prediction is
/// ε = −√(1−ᾱ) ∇log p_t(x_t) = √(1−ᾱ) x_t / (ᾱs² + 1 − ᾱ), and Tweedie's x̂0 at x_t = √ᾱ v is
/// s² v / (s² + σ_t²) with σ_t² = (1−ᾱ)/ᾱ: the exact posterior mean (and MAP) of a Gaussian prior.
/// </summary>
sealed class IsotropicGaussianPrior(long[] sampleShape, double variance) : IDenoiser
{
    public string Name => "isotropic-gaussian";
    public NoiseSchedule Schedule { get; } = NoiseSchedule.Linear(1000);
    public long[] SampleShape { get; } = sampleShape;
    public Device Device => CPU;
    public double Variance { get; } = variance;
    public int Calls { get; private set; }

    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        Calls++;
        using var scope = NewDisposeScope();
        var alphaBar = Tweedie.PerSample(Schedule.AlphaBar(t), xt);
        return ((1 - alphaBar).sqrt() * xt / (alphaBar * Variance + 1 - alphaBar)).MoveToOuterDisposeScope();
    }
}

/// <summary>A nonlinear corruption, y = x² element-wise: it has no adjoint.</summary>
sealed class SquaringMeasurement(long[] shape) : IMeasurement
{
    public string Id => "squaring";
    public bool IsLinear => false;
    public long[] InputShape => shape;
    public long[] OutputShape => shape;
    public Tensor Forward(Tensor x) => x.square();
    public Tensor Adjoint(Tensor y) => throw new NotSupportedException("squaring is nonlinear");
    public Tensor BackProject(Tensor y) => y.clamp_min(0).sqrt();
}

/// <summary>Keeps a fixed, seeded subset of pixels (a stand-in for random inpainting): A = Aᵀ = mask.</summary>
sealed class PixelMaskMeasurement : IMeasurement, IDisposable
{
    readonly Tensor mask;

    public PixelMaskMeasurement(long[] shape, double fractionKept, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var uniform = rand(shape, generator: generator);
        mask = uniform.lt(fractionKept).to(float32);
        InputShape = OutputShape = shape;
    }

    public string Id => "pixel-mask";
    public bool IsLinear => true;
    public long[] InputShape { get; }
    public long[] OutputShape { get; }
    public Tensor Forward(Tensor x) => x * mask;
    public Tensor Adjoint(Tensor y) => y * mask;
    public Tensor BackProject(Tensor y) => y * mask;
    public void Dispose() => mask.Dispose();
}

static class ClassicalProblems
{
    /// <summary>y = A x0 + noise for a random Gaussian A [m, d] and x0 ~ N(0, I), all seeded.</summary>
    public static (MatrixMeasurement A, Tensor Y) RandomMatrixProblem(long[] sampleShape, int m, long batch, double sigmaY, ulong seed)
    {
        using var generator = new Generator(seed);
        long d = sampleShape.Aggregate(1L, (a, b) => a * b);
        using var matrix = randn([m, d], generator: generator) / Math.Sqrt(m);
        var a = new MatrixMeasurement(matrix, sampleShape);
        using var x0 = randn([batch, .. sampleShape], generator: generator);
        using var clean = a.Forward(x0);
        var y = clean + sigmaY * randn(clean.shape, generator: generator);
        return (a, y);
    }

    /// <summary>The exact minimiser of ½σ⁻²‖y − Ax‖² + ½λ xᵀQx, i.e. (AᵀA/σ² + λQ)⁻¹ Aᵀy/σ², in float64, per sample [B, d].</summary>
    public static Tensor QuadraticMap(MatrixMeasurement a, Tensor y, double sigmaY, double lambda, Tensor q)
    {
        using var scope = NewDisposeScope();
        var matrix = a.Matrix.to(float64);
        var hessian = matrix.t().matmul(matrix) / (sigmaY * sigmaY) + lambda * q.to(float64);
        var rhs = y.to(float64).matmul(matrix) / (sigmaY * sigmaY); // [B, d]
        return linalg.solve(hessian, rhs.t()).t().MoveToOuterDisposeScope();
    }

    public static double RelativeError(Tensor estimate, Tensor exact)
    {
        using var scope = NewDisposeScope();
        var e = estimate.to(float64).flatten(1);
        var x = exact.to(float64).flatten(1);
        return ((e - x).norm().item<double>()) / x.norm().item<double>();
    }

    /// <summary>A run's context; classical solvers draw nothing from the generator.</summary>
    public static SolverContext Context(IDenoiser prior, IMeasurement a, Tensor y, double sigmaY, int steps, Generator generator) =>
        new(prior, a, y, NoiseModel.Gaussian(sigmaY), steps, y.shape[0], generator);
}
