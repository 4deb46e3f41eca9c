using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// A sampler or optimiser, written as an iterator: one <see cref="SolverStep"/> per
/// iteration. The consumer sets the pace and stops early by disposing the enumerator; the
/// solver never knows about frames, files or the UI.
/// </summary>
public interface ISolver
{
    /// <summary>Catalog id, e.g. "dps".</summary>
    string Id { get; }

    IEnumerable<SolverStep> Solve(SolverContext context);
}

/// <summary>
/// Everything a solver needs for one run (or a batch of independent runs).
/// </summary>
/// <param name="Prior">The diffusion prior (classical solvers use it only for plug-and-play).</param>
/// <param name="Measurement">A, or null for unconditional sampling.</param>
/// <param name="Y">The measurement [B, ..OutputShape], or null for unconditional sampling.</param>
/// <param name="Noise">The noise model y was made with.</param>
/// <param name="Steps">Number of iterations the solver should take (it reports how many it really takes in <see cref="SolverStep.Total"/>).</param>
/// <param name="BatchSize">Independent samples solved together; each gets exactly what it would get alone.</param>
/// <param name="Random">The run's seeded noise: all randomness comes from it, through <see cref="Normal"/>.</param>
public sealed record SolverContext(
    IDenoiser Prior,
    IMeasurement? Measurement,
    Tensor? Y,
    NoiseModel Noise,
    int Steps,
    long BatchSize,
    NoiseSource Random)
{
    /// <summary>A context whose whole batch draws from one stream (the caller keeps the generator).</summary>
    public SolverContext(IDenoiser prior, IMeasurement? measurement, Tensor? y, NoiseModel noise, int steps, long batchSize, Generator generator)
        : this(prior, measurement, y, noise, steps, batchSize, NoiseSource.Shared(generator)) { }

    public long[] BatchShape => [BatchSize, .. Prior.SampleShape];

    /// <summary>Standard normal noise for the whole batch [B, ..SampleShape] on the prior's device; sample i's rows come from sample i's stream when the noise is per sample.</summary>
    public Tensor Normal() => Random.Normal(BatchShape, Prior.Device);

    public IMeasurement RequireMeasurement(string solverName) =>
        Measurement ?? throw new SolverException($"{solverName} solves an inverse problem: choose a corruption to give it a measurement.");

    /// <summary>The linear operator, or a clear refusal for nonlinear corruptions such as phase retrieval.</summary>
    public IMeasurement RequireLinear(string solverName)
    {
        var a = RequireMeasurement(solverName);
        if (!a.IsLinear)
            throw new SolverException($"{solverName} needs a linear corruption (it uses Aᵀ), but {a.Id} is nonlinear. Try DPS, which only differentiates through A.");
        return a;
    }
}

/// <summary>
/// One iteration of a solver. The tensors belong to the solver and stay valid only until the
/// enumerator moves on: clone what you keep.
/// </summary>
/// <param name="Index">0-based iteration index.</param>
/// <param name="Total">Number of iterations this run takes.</param>
/// <param name="Timestep">The diffusion timestep index this step reached (−1 for classical solvers, 0 at the end of sampling).</param>
/// <param name="Xt">The current iterate x_t, [B, ..SampleShape].</param>
/// <param name="X0Hat">The current estimate of the clean image, [B, ..SampleShape].</param>
/// <param name="Residual">‖y − A(x0Hat)‖ per sample (empty for unconditional sampling).</param>
/// <param name="NetworkEvaluations">Cumulative calls of the prior's network, counting each backward pass as one more.</param>
/// <param name="Objective">The value each sample's iterate reaches on the objective the solver minimises (HQS and ADMM:
/// ½ sigmaY⁻² ‖y − A x0Hat‖² + λ R(x0Hat)), or null for samplers and for regularisers without a value (plug-and-play).</param>
/// <param name="Particles">The weighted particles behind each sample, for sequential Monte Carlo samplers (null for every other solver).</param>
public sealed record SolverStep(
    int Index,
    int Total,
    int Timestep,
    Tensor Xt,
    Tensor X0Hat,
    double[] Residual,
    int NetworkEvaluations,
    double[]? Objective = null,
    ParticleCloud? Particles = null)
{
    public bool IsFinal => Index == Total - 1;
}

/// <summary>
/// The particle systems of a sequential Monte Carlo step, one per sample; the tensors, like the
/// step's, belong to the solver and stay valid only until it moves on.
/// </summary>
/// <param name="Positions">Every particle, [B, N, ..SampleShape].</param>
/// <param name="Weights">Each particle's normalised weight, [B, N] float64 (rows sum to 1).</param>
/// <param name="EffectiveSampleSize">Each sample's effective sample size 1/Σ w̃² at this step, before any resampling, in [1, N].</param>
public sealed record ParticleCloud(Tensor Positions, Tensor Weights, double[] EffectiveSampleSize);

/// <summary>A run that cannot proceed, with a message meant for the person who started it.</summary>
public sealed class SolverException(string message) : Exception(message);
