using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Benchmarks;

/// <summary>One line of the benchmark: a solver's sliced Wasserstein distance to the exact posterior (NaN with a reason when it could not run).</summary>
public sealed record BenchmarkResult(string Solver, int Dy, double Sw, double Seconds, string? Failure = null);

/// <summary>
/// The exact-posterior benchmark of Cardoso et al. (MCGdiff, ICLR 2024), built from one seed: the
/// 25-component mixture in d_x dimensions, A = U diag(s) Vᵀ from a Gaussian matrix's singular
/// vectors with s sorted Uniform(0, 1) values, noise std = Uniform(0, 1)·max(s), and y = A x + n for
/// x drawn from the prior. The exact posterior is a mixture too, so every solver's samples can be
/// scored by their sliced Wasserstein distance to exact posterior samples.
/// </summary>
public sealed class GaussianMixtureBenchmark : IDisposable
{
    /// <summary>The id of "prior samples that ignore y", the floor every posterior solver must beat.</summary>
    public const string PriorFloorId = "prior";

    /// <summary>
    /// The id of "exact posterior samples, as many as a solver draws": the best any sampler can score,
    /// the distance's own noise floor with that many samples against the reference set.
    /// </summary>
    public const string ExactSamplesId = "exact";

    /// <summary>
    /// Directions of every distance. With 100 an SW estimate of these problems has a standard deviation
    /// of 0.6–0.9 from the directions alone; 1 000 make a row steady enough to rank solvers by.
    /// </summary>
    public const int Projections = 1000;

    /// <summary>The corruption id solver defaults are looked up for.</summary>
    public const string CorruptionId = "matrix";

    readonly Tensor y; // [d_y]

    GaussianMixtureBenchmark(GaussianMixturePrior prior, MatrixMeasurement measurement, NoiseModel noise, Tensor y, long seed)
    {
        Prior = prior;
        Measurement = measurement;
        Noise = noise;
        this.y = y;
        Seed = seed;
        Posterior = prior.Posterior(measurement.Matrix, y, noise.SigmaY);
    }

    public static GaussianMixtureBenchmark Create(int dx, int dy, long seed)
    {
        if (dy < 1 || dy > dx) throw new ArgumentOutOfRangeException(nameof(dy), $"d_y must be between 1 and d_x = {dx}");
        using var generator = new Generator((ulong)seed);
        var prior = GaussianMixturePresets.Benchmark(dx, generator);
        Tensor matrix, observed;
        double sigmaY;
        using (var scope = NewDisposeScope())
        {
            var gaussian = randn([dy, dx], float64, generator: generator);
            var (u, _, vh) = linalg.svd(gaussian, fullMatrices: false);
            var singularValues = rand(dy, float64, generator: generator).sort(descending: true).Values;
            matrix = u.matmul(diag(singularValues)).matmul(vh).to(float32).DetachFromDisposeScope();
            sigmaY = rand(1, float64, generator: generator).item<double>() * singularValues.max().item<double>();
            var truth = prior.Sample(1, generator).to(float64).reshape(dx);
            observed = matrix.to(float64).matmul(truth).Plus(randn(dy, float64, generator: generator).Times(sigmaY)).to(float32).DetachFromDisposeScope();
        }
        var measurement = new MatrixMeasurement(matrix, [dx], CorruptionId);
        matrix.Dispose();
        return new GaussianMixtureBenchmark(prior, measurement, NoiseModel.Gaussian(sigmaY), observed, seed);
    }

    public GaussianMixturePrior Prior { get; }
    public MatrixMeasurement Measurement { get; }
    public NoiseModel Noise { get; }
    public GaussianMixturePosterior Posterior { get; }
    public long Seed { get; }
    public int Dx => (int)Prior.Dimension;
    public int Dy => (int)Measurement.OutputShape[0];

    /// <summary>The measurement y, [d_y] (owned).</summary>
    public Tensor Y => y;

    /// <summary>
    /// Runs a solver to its end on <paramref name="count"/> independent samples and returns its answer, [count, d_x]:
    /// a sampler's final state x, or with <paramref name="answerIsEstimate"/> its final estimate (HQS's and ADMM's z,
    /// the regularised half they return, not the data step's x). The samples are a cloud drawing from one stream,
    /// that of sample seed <paramref name="seed"/> (see <see cref="RunSeeds"/>).
    /// </summary>
    public Tensor Solve(ISolver solver, int count, int steps, long seed, bool answerIsEstimate = false)
    {
        using var oneY = y.unsqueeze(0);
        var problem = new RunProblem(Prior, Measurement, oneY, Noise);
        Tensor? last = null;
        foreach (var step in SolverRun.Steps(solver, problem, steps, count, RunSeeds.ForCloud(seed)))
            if (step.IsFinal) last = (answerIsEstimate ? step.X0Hat : step.Xt).detach().clone();
        return last ?? throw new SolverException($"{solver.Id} took no steps.");
    }

    /// <summary>
    /// The two yardsticks and every given catalog solver, each scored against <paramref name="referenceCount"/>
    /// exact posterior samples along <see cref="Projections"/> directions: the exact-samples row (as many exact
    /// posterior samples as a solver draws, the best a sampler can do), the prior floor (prior samples that ignore
    /// y), then the solvers, classical ones scored on their answer z. The reference, the directions and both
    /// yardsticks come from the problem's stream, the solvers' noise from the sample stream of the benchmark's
    /// seed, so the two never share numbers.
    /// </summary>
    /// <param name="settings">A solver's settings for this run (null: its defaults for the explicit-matrix corruption).</param>
    public IEnumerable<BenchmarkResult> Run(IEnumerable<SolverDescriptor> solvers, int samples, int steps, int referenceCount = 10_000,
        Func<SolverDescriptor, IReadOnlyDictionary<string, double>>? settings = null)
    {
        using var problemStream = new Generator(RunSeeds.Problem(Seed));
        using var reference = Posterior.Sample(referenceCount, problemStream);
        using var directions = SlicedWasserstein.Directions(Dx, Projections, problemStream);

        var clock = Stopwatch.StartNew();
        using (var exactSamples = Posterior.Sample(samples, problemStream))
            yield return new BenchmarkResult(ExactSamplesId, Dy, SlicedWasserstein.Distance(exactSamples, reference, directions), clock.Elapsed.TotalSeconds);

        clock.Restart();
        using (var priorSamples = Prior.Sample(samples, problemStream))
            yield return new BenchmarkResult(PriorFloorId, Dy, SlicedWasserstein.Distance(priorSamples, reference, directions), clock.Elapsed.TotalSeconds);

        foreach (var descriptor in solvers)
        {
            clock.Restart();
            double distance = double.NaN;
            string? failure = null;
            try
            {
                var solver = descriptor.Create(settings?.Invoke(descriptor) ?? descriptor.DefaultsFor(CorruptionId));
                using var result = Solve(solver, samples, steps, Seed, answerIsEstimate: descriptor.Family == SolverFamily.Classical);
                distance = SlicedWasserstein.Distance(result, reference, directions);
            }
            catch (SolverException e)
            {
                failure = e.Message; // one solver that refuses the problem must not hide the others' results
            }
            yield return new BenchmarkResult(descriptor.Id, Dy, distance, clock.Elapsed.TotalSeconds, failure);
        }
    }

    public void Dispose()
    {
        Prior.Dispose();
        Measurement.Dispose();
        Posterior.Dispose();
        y.Dispose();
    }
}
