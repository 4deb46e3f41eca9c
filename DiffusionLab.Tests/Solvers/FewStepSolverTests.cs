using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// DiffPIR, DDRM and ΠGDM against closed forms: a one-step limit that is an exact proximal solve, a
/// noiseless measurement met exactly, and, on a Gaussian prior with a linear-Gaussian measurement, the
/// exact Gaussian posterior; then on the bundled faces prior and the benchmark. (Per-sample noise:
/// DiffusionSolverTests and PosteriorSamplesTests run them beside the other samplers.)
/// </summary>
public class FewStepSolverTests
{
    static readonly Runner Runner = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    static ISolver Create(string id, string corruption = "matrix", Dictionary<string, double>? overrides = null)
    {
        var entry = SolverCatalog.Find(id)!;
        var parameters = new Dictionary<string, double>(entry.DefaultsFor(corruption));
        foreach (var (key, value) in overrides ?? []) parameters[key] = value;
        return entry.Create(parameters);
    }

    static Tensor FinalSample(ISolver solver, SolverContext context)
    {
        Tensor? last = null;
        foreach (var step in solver.Solve(context))
            if (step.IsFinal) last = step.Xt.clone();
        return last!;
    }

    /// <summary>N(m, I) in 4 dimensions seen through a 2×4 matrix with σ_y = 0.3: the posterior is Gaussian and known.</summary>
    sealed class GaussianProblem : IDisposable
    {
        public GaussianProblem(double sigmaY = 0.3)
        {
            Prior = GaussianMixturePrior.Isotropic("gaussian", [4], [1.0], [[0.5, -1.0, 0.25, 1.5]], [1.0]);
            using var scope = NewDisposeScope();
            var matrix = tensor(new float[] { 1.0f, 0.5f, 0, -0.5f, 0, 1, 1, 0.25f }, [2, 4]);
            Measurement = new MatrixMeasurement(matrix, [4]);
            Noise = NoiseModel.Gaussian(sigmaY);
            Y = tensor(new float[] { 1.2f, -0.4f }).DetachFromDisposeScope();
            Posterior = Prior.Posterior(Measurement, Y, Noise);
        }

        public GaussianMixturePrior Prior { get; }
        public MatrixMeasurement Measurement { get; }
        public NoiseModel Noise { get; }
        public Tensor Y { get; }
        public GaussianMixturePosterior Posterior { get; }

        public Tensor Solve(ISolver solver, int steps, int count, ulong seed)
        {
            using var y = Y.unsqueeze(0).expand(count, 2).contiguous();
            using var generator = new Generator(seed);
            return FinalSample(solver, new SolverContext(Prior, Measurement, y, Noise, steps, count, generator));
        }

        public void Dispose()
        {
            Prior.Dispose();
            Measurement.Dispose();
            Y.Dispose();
            Posterior.Dispose();
        }
    }

    /// <summary>‖mean − exact mean‖ and ‖covariance − exact covariance‖ (Frobenius) of a solver's samples.</summary>
    static (double MeanError, double CovarianceError) Moments(GaussianProblem problem, ISolver solver, int steps)
    {
        using var scope = NewDisposeScope();
        var samples = problem.Solve(solver, steps, 8000, 5).to(float64);
        var mean = samples.mean([0]);
        var centred = samples - mean;
        var covariance = centred.t().matmul(centred).DividedBy(samples.shape[0] - 1);
        return ((mean - problem.Posterior.Mean()).norm().item<double>(), (covariance - problem.Posterior.Covariances[0]).norm().item<double>());
    }

    [Fact]
    public void PiGdm_samples_approach_the_exact_posterior_of_a_unit_gaussian_prior()
    {
        // For a N(m, I) prior, p(x0 | x_t) is exactly N(x̂0, (1 − ᾱ_t) I), so ΠGDM's likelihood score is
        // exact and only the 200-step discretisation and the 8000 samples separate it from the truth.
        // Sampling error alone: the mean's ≈ √(tr Σ / 8000) ≈ 0.016, the covariance's ≈ ‖Σ‖·√(2/8000) ≈ 0.02
        // (measured 0.024 and 0.039). DPS on the same problem misses by 0.10 and 0.60, so the bounds tell them apart.
        using var problem = new GaussianProblem();
        var (meanError, covarianceError) = Moments(problem, Create("pigdm"), 200);
        Assert.True(meanError < 0.06 && covarianceError < 0.1, $"ΠGDM: mean off by {meanError:0.000}, covariance by {covarianceError:0.000}");
        var (dpsMean, dpsCovariance) = Moments(problem, Create("dps"), 200);
        Assert.False(dpsMean < 0.06 && dpsCovariance < 0.1, $"DPS passes the bound too ({dpsMean:0.000}, {dpsCovariance:0.000}): it does not discriminate");
    }

    [Theory]
    [InlineData("ddrm", 0.06)]
    [InlineData("diffpir", 0.12)]
    public void Ddrm_and_DiffPir_centre_their_samples_on_the_exact_posterior_mean(string id, double bound)
    {
        // Neither is an exact sampler: DDRM at the paper's η = 0.85 is under-dispersed (variances ≈ 30 % low
        // here, at 200 and 1000 steps alike) and DiffPIR's data step weighs y by λσ_y²/σ̄_t² rather than by
        // the exact 1/(1 − ᾱ_t); but both centre on the posterior mean. Measured: DDRM 0.025, DiffPIR 0.077
        // (λ = 1/4, the official code's weight), against sampling error ≈ 0.016 and a prior mean 1.6 away.
        using var problem = new GaussianProblem();
        var (meanError, _) = Moments(problem, Create(id), 200);
        using var priorOffset = problem.Prior.Means[0] - problem.Posterior.Mean();
        Assert.True(priorOffset.norm().item<double>() > 1, "the prior mean should be far from the posterior mean for this test to mean something");
        Assert.True(meanError < bound, $"{id}: sample mean off the exact posterior mean by {meanError:0.000}");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void DiffPir_in_one_step_is_the_exact_proximal_solution(bool throughSvd)
    {
        // One step from t = T − 1 to the clean end: x̂0 = argmin ‖y − Ax‖² + ρ‖x − x0^(T)‖², ρ = λσ_y²/σ̄_T², and
        // the re-noising to ᾱ = 1 returns it unchanged. Checked against a dense float64 solve, once in
        // closed form through the SVD and once by conjugate gradients (the same matrix hidden behind plain A, Aᵀ).
        using var problem = new GaussianProblem();
        using var scope = NewDisposeScope();
        IMeasurement a = throughSvd ? problem.Measurement : new WithoutSvd(problem.Measurement);
        using var y = problem.Y.unsqueeze(0).expand(3, 2).contiguous();
        double lambda = 0.7, sigmaY = problem.Noise.SigmaY;
        var solver = new DiffPir(lambda, 0.5, clipX0Hat: false, cgIterations: 50);
        Tensor result;
        using (var source = NoiseSource.PerSample([1, 2, 3]))
            result = FinalSample(solver, new SolverContext(problem.Prior, a, y, problem.Noise, 1, 3, source)).to(float64);

        int t = problem.Prior.Schedule.TrainingSteps - 1;
        double alphaBar = problem.Prior.Schedule.AlphaBar(t);
        Tensor start;
        using (var source = NoiseSource.PerSample([1, 2, 3])) start = source.Normal([3, 4], CPU);
        using var timesteps = ScalarArithmetic.Full([3], (long)t, int64);
        var eps = problem.Prior.PredictNoise(start, timesteps);
        var priorX0 = ((start - eps.Times(Math.Sqrt(1 - alphaBar))) / Math.Sqrt(alphaBar)).to(float64);
        double rho = lambda * sigmaY * sigmaY / ((1 - alphaBar) / alphaBar);
        var matrix = problem.Measurement.Matrix.to(float64);
        var normal = matrix.t().matmul(matrix).Plus(eye(4, dtype: float64).Times(rho));
        var rhs = y.to(float64).matmul(matrix).Plus(priorX0.Times(rho));
        var expected = linalg.solve(normal, rhs.t()).t();
        double error = (result - expected).abs().max().item<double>();
        Assert.True(error < 1e-4, $"DiffPIR's one-step answer differs from the exact proximal solution by {error:E2}");
        Assert.True((result - priorX0).abs().max().item<double>() > 0.01, "the data step should have moved the prior's guess");
    }

    [Fact]
    public void Ddrm_meets_a_noiseless_measurement_exactly()
    {
        // With σ_y = 0 every measured spectral coordinate is "noisier than y" at every step, so η_b = 1 sets
        // it to ȳ plus the noise still missing, and at the clean end to ȳ itself: A x = y to float precision.
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 8, dy: 4, seed: 5);
        using var scope = NewDisposeScope();
        var y = benchmark.Y.unsqueeze(0).expand(50, 4).contiguous();
        using var generator = new Generator(4);
        var result = FinalSample(Create("ddrm"), new SolverContext(benchmark.Prior, benchmark.Measurement, y, NoiseModel.Gaussian(0), 20, 50, generator));
        double misfit = (benchmark.Measurement.Forward(result) - y).abs().max().item<float>();
        Assert.True(misfit < 1e-4, $"DDRM's noiseless answers miss y by up to {misfit:E2}");
        Assert.True(result.std([0]).min().item<float>() > 1e-3, "the unmeasured directions should still vary from sample to sample");
    }

    [Fact]
    public void Ddrm_refuses_a_corruption_without_a_known_svd_in_words()
    {
        using var prior = GaussianMixturePresets.ImageDemo();
        using var blur = new GaussianBlur([3, 32, 32], 9, 1.5);
        using var y = zeros(1, 3, 32, 32);
        using var generator = new Generator(1);
        var context = new SolverContext(prior, blur, y, NoiseModel.Gaussian(0.05), 5, 1, generator);
        var error = Assert.Throws<SolverException>(() => Create("ddrm", "gaussian-blur").Solve(context).ToList());
        Assert.StartsWith("DDRM needs a corruption with a known SVD", error.Message);
        Assert.Contains("gaussian-blur", error.Message);
    }

    [Fact]
    public void A_ddrm_spec_on_a_blur_is_refused_before_it_runs()
    {
        var spec = new ExperimentSpec { Prior = PriorCatalog.ImageDemoId, Image = "sample:0", Corruption = "gaussian-blur", Solver = "ddrm", Steps = 5 };
        var refused = Assert.Throws<SpecException>(() => Runner.Prepare(spec));
        var problem = Assert.Single(refused.Problems, p => p.Field == "solver");
        Assert.Contains("needs a corruption with a known SVD", problem.Message);
        Assert.NotNull(Runner.Prepare(spec with { Corruption = "super-resolution" }));
    }

    [Theory]
    [InlineData("diffpir", "super-resolution")]
    [InlineData("diffpir", "box-inpainting")]
    [InlineData("ddrm", "super-resolution")]
    [InlineData("ddrm", "box-inpainting")]
    [InlineData("pigdm", "super-resolution")]
    [InlineData("pigdm", "box-inpainting")]
    public void A_few_steps_on_the_bundled_faces_stay_finite_and_fit_y_to_its_noise(string id, string corruption)
    {
        // A few steps through the Runner, as the lab runs them. DiffPIR and DDRM solve the data part exactly
        // at every step, so their answer explains y about as well as the noise allows (‖y − A x̂0‖ near
        // ‖n‖ ≈ σ_y √m); ΠGDM's pull is weighted by √ᾱ_s √ᾱ_t r_t², small while the image is mostly noise,
        // so in ten steps it only gets well below the prior alone (an unconditional DDIM run of the same length).
        int steps = id == "pigdm" ? 10 : 6;
        var spec = new ExperimentSpec
        {
            Prior = "pixel-faces-32",
            Image = "gallery:" + Runner.Priors.Gallery("pixel-faces-32")[2],
            Corruption = corruption,
            Solver = id,
            Steps = steps,
            Seed = 3,
        };
        double FinalResidual(ExperimentSpec s, out List<StepRecord> records)
        {
            using var run = Runner.Prepare(s);
            records = Runner.Run(run).ToList();
            return records[^1].Residual;
        }
        double residual = FinalResidual(spec, out var records);
        double priorAlone = FinalResidual(spec with { Solver = "ddim" }, out _);
        Assert.Equal(steps, records.Count);
        Assert.All(records, s => Assert.True(double.IsFinite(s.Residual) && double.IsFinite(s.Psnr), $"{id} step {s.Step}: residual {s.Residual}, PSNR {s.Psnr}"));
        long measured = corruption == "super-resolution" ? 3 * 16 * 16 : 3 * (32 * 32 - 16 * 16); // ×2 and a 16×16 hole, the defaults
        double noiseNorm = 0.05 * Math.Sqrt(measured);
        string report = $"{id} on {corruption}: residual {residual:0.00}, noise ≈ {noiseNorm:0.00}, the prior alone {priorAlone:0.00}";
        Assert.True(residual < 0.5 * priorAlone, report);
        if (id != "pigdm") Assert.True(residual < 2 * noiseNorm, report);
        Assert.Equal(id == "pigdm" ? 2 * steps : steps, records[^1].NetworkEvaluations);
    }

    [Fact]
    public void The_catalog_offers_them_as_posterior_samplers_with_valid_defaults()
    {
        var ids = new[] { "diffpir", "ddrm", "pigdm" };
        foreach (var id in ids)
        {
            var entry = SolverCatalog.Find(id);
            Assert.NotNull(entry);
            Assert.Equal(SolverFamily.Posterior, entry.Family);
            Assert.True(entry.NeedsLinearOperator);
            Assert.InRange(entry.DefaultSteps, 1, 50);
            foreach (var corruption in new string?[] { null, "matrix", "gaussian-blur", "box-inpainting", "super-resolution", "phase-retrieval" })
            {
                var defaults = entry.DefaultsFor(corruption);
                foreach (var parameter in entry.Parameters)
                {
                    Assert.True(defaults.ContainsKey(parameter.Key), $"{id} has no default for {parameter.Key}");
                    Assert.Null(parameter.Validate(defaults[parameter.Key]));
                }
                Assert.Equal(id, entry.Create(defaults).Id);
            }
            Assert.Equal(0, entry.DefaultsFor("matrix")["clipX0"]); // points in the plane are not images
        }
        // The paper's settings.
        Assert.Equal(0.85, SolverCatalog.Find("ddrm")!.DefaultsFor("super-resolution")["eta"]);
        Assert.Equal(1.0, SolverCatalog.Find("ddrm")!.DefaultsFor("super-resolution")["etaB"]);
        Assert.Equal(1.0, SolverCatalog.Find("diffpir")!.DefaultsFor("box-inpainting")["zeta"]);
    }

    [Fact]
    public void Each_beats_the_prior_floor_on_a_benchmark_instance()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 8, dy: 4, seed: 24);
        var solvers = new[] { "diffpir", "ddrm", "pigdm" }.Select(id => SolverCatalog.Find(id)!).ToList();
        var results = benchmark.Run(solvers, samples: 300, steps: 50, referenceCount: 3000).ToList();
        double floor = results.Single(r => r.Solver == GaussianMixtureBenchmark.PriorFloorId).Sw;
        foreach (var r in results.Where(r => r.Solver != GaussianMixtureBenchmark.PriorFloorId))
        {
            Assert.Null(r.Failure);
            Assert.True(r.Sw < 0.8 * floor, $"{r.Solver}: {r.Sw:0.00} is not clearly below the prior floor {floor:0.00}");
        }
    }

    [Fact]
    public void DiffPir_timesteps_run_from_the_noisiest_to_the_clean_end_densest_near_it()
    {
        var steps = DiffPir.QuadraticTimesteps(1000, 20);
        Assert.Equal(20, steps.Length);
        Assert.Equal(999, steps[0]);
        Assert.Equal(0, steps[^1]);
        Assert.True(steps.Zip(steps.Skip(1), (a, b) => a > b).All(x => x));
        Assert.True(steps[0] - steps[1] > steps[^2] - steps[^1]);
        var many = DiffPir.QuadraticTimesteps(1000, 5000); // more steps than timesteps: repeats are dropped
        Assert.True(many.Length <= 1000 && many[0] == 999 && many[^1] == 0);
        Assert.True(many.Zip(many.Skip(1), (a, b) => a > b).All(x => x));
    }

    [Fact]
    public void Hundreds_of_steps_leave_no_live_tensors_behind()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var observeX1 = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2], "matrix");
        using var y = full(4, 1, 1.0f);
        using var noise = NoiseSource.PerSample([6, 7, 8, 9]);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        int steps = 0;
        foreach (var id in new[] { "diffpir", "ddrm", "pigdm" })
            foreach (var step in Create(id).Solve(new SolverContext(prior, observeX1, y, NoiseModel.Gaussian(0.05), 200, 4, noise)))
            {
                steps++;
                using var kept = step.X0Hat.clone();
            }
        Assert.Equal(600, steps);
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    /// <summary>A matrix operator that shows only A and Aᵀ, so solvers take their general path.</summary>
    sealed class WithoutSvd(MatrixMeasurement inner) : IMeasurement
    {
        public string Id => inner.Id;
        public bool IsLinear => true;
        public long[] InputShape => inner.InputShape;
        public long[] OutputShape => inner.OutputShape;
        public Tensor Forward(Tensor x) => inner.Forward(x);
        public Tensor Adjoint(Tensor y) => inner.Adjoint(y);
        public Tensor BackProject(Tensor y) => inner.BackProject(y);
    }
}
