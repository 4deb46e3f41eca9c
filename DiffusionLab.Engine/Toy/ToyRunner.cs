using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Toy;

/// <summary>
/// One step of a 2-D run as the browser needs it: where every particle is (packed x, y pairs),
/// how far along the run is, and, every few steps, the sliced Wasserstein distance between the
/// particles and exact samples of the target (the posterior, or the prior when there is no
/// measurement).
/// </summary>
/// <param name="T">The diffusion time t ∈ [0, 1] the particles have reached (0 for HQS and ADMM).</param>
/// <param name="Distance">Sliced Wasserstein distance to the exact target, or null on steps where it is not measured.</param>
/// <param name="Weights">For a sequential Monte Carlo sampler, each particle's weight times N (1 is an average particle); null for the others.</param>
/// <param name="Ess">For a sequential Monte Carlo sampler, the effective sample size of the particles at this step.</param>
public sealed record ToyFrame(int Step, int Total, double T, float[] Positions, double? Distance, bool IsFinal, float[]? Weights = null, double? Ess = null);

/// <summary>
/// A 2-D run made ready: the exact prior, the measurement y = a·x + noise with its exact posterior,
/// exact samples of the target to measure the particles against, and two yardsticks for the
/// distance: what exact samples of the same size score (the best any sampler can do with this many
/// particles) and, with a measurement, what exact prior samples score (a sampler that ignores y).
/// </summary>
public sealed class PreparedToyRun : IDisposable
{
    internal PreparedToyRun(ToySpec spec, GaussianMixturePrior prior, MatrixMeasurement? measurement, Tensor? y,
        GaussianMixturePosterior? posterior, Tensor reference, Tensor directions, double exactFloor, double? priorFloor)
    {
        Directions = directions;
        Spec = spec;
        Prior = prior;
        Measurement = measurement;
        Y = y;
        Posterior = posterior;
        Reference = reference;
        ExactFloor = exactFloor;
        PriorFloor = priorFloor;
    }

    public ToySpec Spec { get; }
    public GaussianMixturePrior Prior { get; }
    public MatrixMeasurement? Measurement { get; }

    /// <summary>The observed y, [1, 1], the same for every particle (null without a measurement).</summary>
    public Tensor? Y { get; }
    public GaussianMixturePosterior? Posterior { get; }

    /// <summary>Exact samples of the target, [R, 2].</summary>
    public Tensor Reference { get; }

    /// <summary>The directions the distance projects onto, [2, P]: one set per run, so the figure changes only because the particles move.</summary>
    public Tensor Directions { get; }

    /// <summary>The distance exact target samples reach with as many particles as the run scores (sampling noise alone).</summary>
    public double ExactFloor { get; }

    /// <summary>The distance exact prior samples reach against the posterior: a sampler that ignores y. Null without a measurement.</summary>
    public double? PriorFloor { get; }

    public void Dispose()
    {
        Prior.Dispose();
        Measurement?.Dispose();
        Y?.Dispose();
        Posterior?.Dispose();
        Reference.Dispose();
        Directions.Dispose();
    }
}

/// <summary>
/// Runs a solver on N particles of the 2-D lab as one batch (each particle is an independent run,
/// exactly as the solvers promise for a batch), and turns its steps into <see cref="ToyFrame"/>s.
/// A sequential Monte Carlo sampler instead runs once with the lab's N as its particle count, so
/// the cloud is one weighted particle system whose weights and effective sample size the frames carry.
/// </summary>
public static class ToyRunner
{
    /// <summary>Exact target samples the particles are compared with; the distance uses at most this many particles too.</summary>
    public const int ReferenceCount = 1000;

    /// <summary>Directions of the sliced Wasserstein distance: enough for a steady figure in 2-D, cheap enough for every few steps.</summary>
    public const int Projections = 50;

    /// <summary>The distance is measured about this many times per run (and always on the last step).</summary>
    public const int DistanceMeasurementsPerRun = 50;

    public static PreparedToyRun Prepare(ToySpec spec)
    {
        var problems = spec.Validate();
        if (problems.Count > 0) throw new SolverException(string.Join(" ", problems.Select(p => p.Message)));
        var prior = spec.CreatePrior();
        MatrixMeasurement? measurement = null;
        Tensor? y = null;
        GaussianMixturePosterior? posterior = null;
        try
        {
            measurement = spec.CreateMeasurement();
            posterior = spec.CreatePosterior(prior);
            if (measurement is not null) y = tensor(new[] { (float)spec.Measurement.Y }, [1, 1]);

            // Everything the particles are scored against comes from the problem's stream; the
            // particles' own noise comes from the sample stream (RunSeeds), so the two never share numbers.
            using var problemStream = new Generator(RunSeeds.Problem(spec.Seed));
            var reference = Target(prior, posterior, ReferenceCount, problemStream);
            var directions = SlicedWasserstein.Directions(2, Projections, problemStream);
            int scored = Math.Min(spec.BatchSize, ReferenceCount);
            double exactFloor;
            using (var exact = Target(prior, posterior, scored, problemStream))
                exactFloor = Distance(exact, reference, directions);
            double? priorFloor = null;
            if (posterior is not null)
                using (var priorSamples = prior.Sample(scored, problemStream))
                    priorFloor = Distance(priorSamples, reference, directions);
            return new PreparedToyRun(spec, prior, measurement, y, posterior, reference, directions, exactFloor, priorFloor);
        }
        catch
        {
            prior.Dispose();
            measurement?.Dispose();
            y?.Dispose();
            posterior?.Dispose();
            throw;
        }
    }

    /// <summary>The run's frames, one per solver step; stops at the next step once <paramref name="cancellation"/> fires.</summary>
    public static IEnumerable<ToyFrame> Run(PreparedToyRun run, CancellationToken cancellation = default)
    {
        var spec = run.Spec;
        var descriptor = spec.Solver!;
        var parameters = new Dictionary<string, double>(ToySpec.DefaultParameters(descriptor, spec.Measurement));
        foreach (var (key, value) in spec.Parameters) parameters[key] = value;
        bool particleSystem = spec.IsParticleSystem;
        if (particleSystem) parameters[ToySpec.ParticleCountKey] = spec.Particles;
        var solver = descriptor.Create(parameters);
        bool singlePoint = spec.IsSinglePoint;
        var problem = new RunProblem(run.Prior, run.Measurement, run.Y, NoiseModel.Gaussian(spec.Measurement.SigmaY));
        // A cloud of up to 2 000 exchangeable particles draws from one stream: a generator per particle would cost a call each per step.
        var steps = SolverRun.Steps(solver, problem, spec.Steps, particleSystem ? 1 : spec.BatchSize, RunSeeds.ForCloud(spec.Seed), cancellation);
        int stride = 0;
        foreach (var step in steps)
        {
            if (stride == 0) stride = Math.Max(1, step.Total / DistanceMeasurementsPerRun);
            // HQS and ADMM show their regularised half, the answer they return; samplers show the state x_t,
            // a particle system all its particles (at the end, the system resampled by weight).
            var cloud = particleSystem ? step.Particles : null;
            var shown = cloud is not null ? cloud.Positions[0] : singlePoint ? step.X0Hat : step.Xt;
            double? distance = null;
            if (step.IsFinal || step.Index % stride == 0)
            {
                using var scored = shown.detach().reshape(-1, 2).narrow(0, 0, Math.Min(shown.shape[0], ReferenceCount));
                distance = Distance(scored, run.Reference, run.Directions);
            }
            double t = singlePoint ? 0 : PlanePictures.TimeOfStep(run.Prior.Schedule, step.Timestep);
            float[]? weights = null;
            if (cloud is not null)
                using (var scaled = cloud.Weights[0].Times(cloud.Weights.shape[1]).to(float32))
                    weights = scaled.data<float>().ToArray();
            yield return new ToyFrame(step.Index, step.Total, t, PlanePictures.Packed(shown.reshape(-1, 2)), distance, step.IsFinal,
                weights, cloud?.EffectiveSampleSize[0]);
        }
    }

    static Tensor Target(GaussianMixturePrior prior, GaussianMixturePosterior? posterior, int count, Generator generator) =>
        posterior is null ? prior.Sample(count, generator) : posterior.Sample(count, generator);

    static double Distance(Tensor particles, Tensor reference, Tensor directions)
    {
        using var finite = particles.nan_to_num(0, 1e6, -1e6);
        return SlicedWasserstein.Distance(finite, reference, directions);
    }
}
