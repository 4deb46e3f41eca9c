using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// The diffusion samplers on priors whose answers are exact: unconditional samplers against
/// exact prior samples, posterior samplers against the exact posterior.
/// </summary>
public class DiffusionSolverTests
{
    static Tensor FinalSample(ISolver solver, SolverContext context)
    {
        Tensor? last = null;
        foreach (var step in solver.Solve(context))
            if (step.IsFinal) last = step.Xt.clone();
        return last!;
    }

    public static TheoryData<string, int> UnconditionalSamplers => new()
    {
        { "ddpm", 100 },
        { "ddim", 50 },
        { "ddim-eta1", 100 },
        { "reverse-sde", 200 },
        { "probability-flow-euler", 100 },
        { "probability-flow-heun", 50 },
    };

    static ISolver Unconditional(string name) => name switch
    {
        "ddpm" => new Ddpm(),
        "ddim" => new Ddim(0),
        "ddim-eta1" => new Ddim(1),
        "reverse-sde" => new ReverseSde(),
        "probability-flow-euler" => new ProbabilityFlow(OdeMethod.Euler),
        "probability-flow-heun" => new ProbabilityFlow(OdeMethod.Heun),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(UnconditionalSamplers))]
    public void Unconditional_sampler_reaches_the_exact_prior(string name, int steps)
    {
        using var prior = GaussianMixturePresets.TwoClusters();
        using var generator = new Generator(42);
        using var exact = prior.Sample(8000, generator);
        using var sampled = FinalSample(Unconditional(name), new SolverContext(prior, null, null, NoiseModel.Gaussian(0), steps, 2000, generator));
        using var start = randn([2000, 2], generator: generator);
        using var tooWide = prior.Sample(2000, generator) * 1.1f;
        // W1 rather than W2: W2 reacts to the binomial noise in how many particles land in the small
        // cluster like a square root, W1 linearly, so W1 separates right from wrong with fewer particles.
        double distance = SlicedWasserstein.Distance(sampled, exact, seed: 1, p: 1);
        double noiseDistance = SlicedWasserstein.Distance(start, exact, seed: 1, p: 1);
        double tooWideDistance = SlicedWasserstein.Distance(tooWide, exact, seed: 1, p: 1);
        // Measured: independent exact sets of these sizes sit 0.02–0.08 apart, exact samples spread
        // 10 % too wide 0.14–0.20, the starting noise about 0.8.
        Assert.True(distance < 0.12, $"{name}: sliced W1 to exact prior samples {distance:0.000} (10 % too wide {tooWideDistance:0.000}, noise {noiseDistance:0.000})");
    }

    [Fact]
    public void Ddim_on_the_image_shaped_mixture_draws_images_as_likely_as_exact_samples()
    {
        using var prior = GaussianMixturePresets.ImageDemo();
        using var generator = new Generator(12);
        using var exact = prior.Sample(8, generator);
        using var sampled = FinalSample(new Ddim(0), new SolverContext(prior, null, null, NoiseModel.Gaussian(0), 25, 8, generator));
        Assert.Equal(new long[] { 8, 3, 32, 32 }, sampled.shape);
        using var exactLogDensity = prior.LogDensity(exact, 1.0);
        using var sampledLogDensity = prior.LogDensity(sampled, 1.0);
        using var noise = randn([8, 3, 32, 32], generator: generator);
        using var noiseLogDensity = prior.LogDensity(noise, 1.0);
        // Per pixel: exact samples and DDIM's agree within 0.1 nats; noise is thousands of nats per image worse.
        double exactMean = exactLogDensity.mean().item<double>(), sampledMean = sampledLogDensity.mean().item<double>();
        Assert.True(sampledMean > exactMean - 0.1 * 3072, $"DDIM samples log p0 {sampledMean:0} vs exact {exactMean:0} (noise {noiseLogDensity.mean().item<double>():0})");
    }

    [Fact]
    public void Every_posterior_solver_beats_the_prior_floor_on_a_benchmark_instance()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 8, dy: 4, seed: 24);
        var posteriorSolvers = DiffusionSolverCatalog.Entries.Where(e => e.Family == SolverFamily.Posterior).ToList();
        Assert.Equal(["sdedit", "score-ald", "dps", "daps", "tds"], posteriorSolvers.Select(e => e.Id));
        var results = benchmark.Run(posteriorSolvers, samples: 300, steps: 50, referenceCount: 3000).ToList();
        double floor = results.Single(r => r.Solver == GaussianMixtureBenchmark.PriorFloorId).Sw;
        foreach (var r in results.Where(r => r.Solver != GaussianMixtureBenchmark.PriorFloorId))
            Assert.True(r.Sw < 0.8 * floor, $"{r.Solver}: {r.Sw:0.00} is not clearly below the prior floor {floor:0.00}");
        Assert.True(results.Single(r => r.Solver == "dps").Sw < 0.25 * floor, "DPS should land close to the exact posterior on this well-posed instance");
    }

    [Fact]
    public void Sdedit_drifts_further_from_its_guide_as_strength_grows()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var identity = new MatrixMeasurement(eye(2), [2], "matrix");
        using var y = tensor(new float[] { 0.5f, 0.5f }).expand(300, 2).contiguous(); // inside the ring, far from every component
        var distances = new List<double>();
        foreach (double t0 in new[] { 0.02, 0.1, 0.2, 0.35 })
        {
            using var generator = new Generator(3);
            var context = new SolverContext(prior, identity, y, NoiseModel.Gaussian(0), 50, 300, generator);
            using var result = FinalSample(new Sdedit(t0), context);
            using var distance = (result - y).norm(1).mean();
            distances.Add(distance.item<float>());
        }
        for (int i = 1; i < distances.Count; i++)
            Assert.True(distances[i] > distances[i - 1], $"distance to the guide does not grow with t0: {string.Join(", ", distances.Select(d => d.ToString("0.000")))}");
    }

    [Fact]
    public void Dps_gives_each_sample_of_a_batch_the_guidance_it_would_get_alone()
    {
        // Two runs with the same seed (so the same per-sample noise) that differ only in the other
        // samples' measurements: sample 0 must follow exactly the same path. A norm summed over the
        // batch (the bug in DPS's tracker) would scale sample 0's step by the others' residuals.
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 8, dy: 2, seed: 3);
        using var first = cat([benchmark.Y.unsqueeze(0), tensor(new float[] { 5, -5 }).unsqueeze(0), tensor(new float[] { -30, 40 }).unsqueeze(0)]);
        using var second = cat([benchmark.Y.unsqueeze(0), tensor(new float[] { 0, 0 }).unsqueeze(0), tensor(new float[] { 1, 1 }).unsqueeze(0)]);
        Tensor Run(Tensor y)
        {
            using var generator = new Generator(9);
            return FinalSample(new Dps(1.0, false), new SolverContext(benchmark.Prior, benchmark.Measurement, y, benchmark.Noise, 40, 3, generator));
        }
        using var a = Run(first);
        using var b = Run(second);
        using var sampleZeroDifference = (a[0] - b[0]).abs().max();
        using var othersDifference = (a[1..] - b[1..]).abs().max();
        Assert.True(sampleZeroDifference.item<float>() < 1e-5, $"sample 0 moved by {sampleZeroDifference.item<float>()} when only the others' y changed");
        Assert.True(othersDifference.item<float>() > 1e-2, "the other samples should follow their own measurements");
    }

    [Fact]
    public void Dps_refuses_to_continue_with_a_non_finite_guidance_gradient()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var y = ones(2, 2); // a nonzero residual, so the norm itself is differentiable
        using var generator = new Generator(1);
        var context = new SolverContext(prior, new SquareRootMeasurement(), y, NoiseModel.Gaussian(0.1), 20, 2, generator);
        var error = Assert.Throws<SolverException>(() => new Dps(1, false).Solve(context).ToList());
        Assert.Contains("guidance gradient", error.Message);
    }

    [Fact]
    public void ScoreAld_refuses_a_nonlinear_corruption_in_plain_words()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var y = zeros(2, 2);
        using var generator = new Generator(1);
        var context = new SolverContext(prior, new SquareRootMeasurement(), y, NoiseModel.Gaussian(0.1), 20, 2, generator);
        var error = Assert.Throws<SolverException>(() => new ScoreAld(10, 1, 5e-5).Solve(context).ToList());
        Assert.Contains("linear", error.Message);
    }

    [Fact]
    public void Steps_report_iterates_residuals_and_counted_network_evaluations()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 4, dy: 2, seed: 1);
        using var y = benchmark.Y.unsqueeze(0).expand(5, 2).contiguous();
        using var generator = new Generator(2);
        var context = new SolverContext(benchmark.Prior, benchmark.Measurement, y, benchmark.Noise, 10, 5, generator);
        var dpsSteps = new Dps(1, false).Solve(context).Select(s => (s.Index, s.Total, s.Timestep, s.Residual.Length, s.NetworkEvaluations)).ToList();
        Assert.Equal(10, dpsSteps.Count);
        Assert.All(dpsSteps, s => Assert.Equal(5, s.Length));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => 2 * i), dpsSteps.Select(s => s.NetworkEvaluations)); // forward + backward each step
        Assert.Equal(0, dpsSteps[^1].Timestep);

        var heun = new ProbabilityFlow(OdeMethod.Heun).Solve(context with { Measurement = null, Y = null }).ToList();
        Assert.Equal(19, heun[^1].NetworkEvaluations); // two per step, one on the last
        Assert.Empty(heun[^1].Residual);

        var ald = new ScoreAld(4, 3, 5e-5).Solve(context).ToList();
        Assert.Equal(12, ald.Count);
        Assert.Equal(12, ald[0].Total);
    }

    [Fact]
    public void Per_sample_noise_gives_each_sample_of_a_batch_exactly_the_noise_of_its_run_alone()
    {
        using var source = NoiseSource.PerSample([11, 12, 13]);
        using var batch = source.Normal([3, 2, 5], CPU);
        for (int i = 0; i < 3; i++)
        {
            using var alone = NoiseSource.PerSample([11UL + (ulong)i]);
            using var drawn = alone.Normal([1, 2, 5], CPU);
            Assert.Equal(drawn.data<float>().ToArray(), batch[i].data<float>().ToArray());
        }
        Assert.NotEqual(batch[0].data<float>().ToArray(), batch[1].data<float>().ToArray());
        // A batch shaped for another number of samples is a mistake, not silently shared noise.
        Assert.Throws<ArgumentException>(() => source.Normal([2, 2, 5], CPU));
    }

    [Theory]
    [InlineData("ddpm")]
    [InlineData("dps")]
    [InlineData("score-ald")]
    [InlineData("diffpir")]
    [InlineData("ddrm")]
    [InlineData("pigdm")]
    [InlineData("daps")]
    [InlineData("tds")]
    public void With_per_sample_noise_sample_k_of_a_batch_is_its_run_alone(string id)
    {
        // Each sample draws from its own generator and the mixture's ε, its gradient and the DPS
        // norm are per sample, so a batch of three is three runs side by side.
        using var prior = GaussianMixturePresets.Ring();
        using var identity = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2], "matrix");
        var entry = SolverCatalog.All.Single(e => e.Id == id);
        var parameters = new Dictionary<string, double>(entry.DefaultsFor("matrix"));
        if (id == "score-ald") parameters["levels"] = 10;
        var solver = entry.Create(parameters);
        float[] Final(ulong[] seeds)
        {
            using var y = full(seeds.Length, 1, 1.5f);
            using var source = NoiseSource.PerSample(seeds);
            using var last = FinalSample(solver, new SolverContext(prior, identity, y, NoiseModel.Gaussian(0.2), 30, seeds.Length, source));
            return last.data<float>().ToArray();
        }
        var together = Final([5, 6, 7]);
        for (int k = 0; k < 3; k++)
        {
            var alone = Final([5UL + (ulong)k]);
            var worst = alone.Zip(together.Skip(2 * k).Take(2), (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst == 0, $"{id}: sample {k} of the batch differs from its run alone by {worst}");
        }
        Assert.NotEqual(together[..2], together[2..4]);
    }

    [Fact]
    public void Two_thousand_solver_steps_leave_no_live_tensors_behind()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var identity = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2], "matrix");
        using var y = full(4, 1, 1.0f);
        using var noise = NoiseSource.PerSample([6, 7, 8, 9]); // what every lab and diversity run draws from
        var solvers = new (ISolver Solver, int Steps)[]
        {
            (new Ddpm(), 400), (new Ddim(0.5), 250), (new ReverseSde(), 250), (new ProbabilityFlow(OdeMethod.Heun), 250),
            (new Sdedit(0.7), 250), (new ScoreAld(100, 3, 5e-5), 0), (new Dps(0.5, true), 300),
        };
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        int steps = 0;
        foreach (var (solver, count) in solvers)
        {
            var context = new SolverContext(prior, identity, y, NoiseModel.Gaussian(0.05), count, 4, noise);
            foreach (var step in solver.Solve(context))
            {
                steps++;
                using var kept = step.X0Hat.clone(); // what a consumer does with a frame
            }
        }
        Assert.True(steps >= 2000, $"only {steps} steps ran");
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void A_consumer_that_wraps_every_step_in_its_own_scope_does_not_pull_tensors_from_under_the_solver()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 2, dy: 1, seed: 2);
        using var y = benchmark.Y.unsqueeze(0).expand(3, 1).contiguous();
        foreach (var entry in DiffusionSolverCatalog.Entries)
        {
            using var generator = new Generator(2);
            var context = new SolverContext(benchmark.Prior, benchmark.Measurement, y, benchmark.Noise, 5, 3, generator);
            var solver = entry.Create(entry.DefaultsFor("matrix") is var d && entry.Id == "score-ald" ? new Dictionary<string, double>(d) { ["levels"] = 3 } : d);
            using var steps = solver.Solve(context).GetEnumerator();
            int count = 0;
            while (true)
            {
                using var scope = NewDisposeScope();
                if (!steps.MoveNext()) break;
                using var frame = steps.Current.X0Hat * 1; // made inside the consumer's scope
                Assert.True(steps.Current.Xt.isfinite().all().item<bool>());
                count++;
            }
            Assert.True(count > 0, entry.Id);
        }
    }

    [Fact]
    public void Catalog_defaults_are_valid_and_build_every_solver()
    {
        Assert.Equal(["ddpm", "ddim", "reverse-sde", "probability-flow", "sdedit", "score-ald", "dps", "daps", "tds"], DiffusionSolverCatalog.Entries.Select(e => e.Id));
        foreach (var entry in DiffusionSolverCatalog.Entries)
        {
            Assert.InRange(entry.DefaultSteps, 1, entry.MaxSteps);
            Assert.False(string.IsNullOrWhiteSpace(entry.Explanation));
            foreach (var corruption in new string?[] { null, "matrix", "gaussian-blur", "box-inpainting", "phase-retrieval" })
            {
                var defaults = entry.DefaultsFor(corruption);
                foreach (var parameter in entry.Parameters)
                {
                    Assert.True(defaults.ContainsKey(parameter.Key), $"{entry.Id} has no default for {parameter.Key}");
                    Assert.Null(parameter.Validate(defaults[parameter.Key]));
                }
                Assert.Equal(entry.Id, entry.Create(defaults).Id);
            }
        }
    }

    /// <summary>A nonlinear A whose derivative is infinite at 0: y = √x.</summary>
    sealed class SquareRootMeasurement : IMeasurement
    {
        public string Id => "square-root";
        public bool IsLinear => false;
        public long[] InputShape => [2];
        public long[] OutputShape => [2];
        public Tensor Forward(Tensor x) => (x.abs() * 0).sqrt();
        public Tensor Adjoint(Tensor y) => throw new NotSupportedException();
        public Tensor BackProject(Tensor y) => y.clone();
    }
}
