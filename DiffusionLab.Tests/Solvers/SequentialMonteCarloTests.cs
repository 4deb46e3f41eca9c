using DiffusionLab.Engine;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using System.Collections.Immutable;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// The twisted diffusion sampler (TDS) and its particle bookkeeping, against closed forms: the
/// weights and the effective sample size by hand, systematic resampling by its expectation, and the
/// sampler on mixtures whose posterior is exact.
/// </summary>
public class SequentialMonteCarloTests
{
    [Fact]
    public void Weights_are_normalised_even_when_their_logs_are_huge_and_ess_follows_its_formula()
    {
        using var logWeights = tensor(new double[] { 1000, 1001, 999, -5, -5, -5, 0, -1e9, -1e9 }, [3, 3]);
        using var weights = ParticleWeights.Normalised(logWeights);
        using var sums = weights.sum(1);
        Assert.All(sums.data<double>().ToArray(), s => Assert.Equal(1, s, 12));
        double e = Math.E, z = 1 + e + 1 / e;
        double[] expected = [1 / z, e / z, 1 / (e * z)]; // softmax of (1000, 1001, 999), with the 1000 taken out
        var first = weights[0].data<double>().ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(expected[i], first[i], 12);
        using var ess = ParticleWeights.EffectiveSampleSize(weights);
        var values = ess.data<double>().ToArray();
        Assert.Equal(1 / expected.Sum(w => w * w), values[0], 10);
        Assert.Equal(3, values[1], 10);  // equal weights: every particle counts
        Assert.Equal(1, values[2], 10);  // one particle holds all the weight
        using var quarter = tensor(new double[] { 0.5, 0.25, 0.25 }, [1, 3]);
        using var quarterEss = ParticleWeights.EffectiveSampleSize(quarter);
        Assert.Equal(1 / 0.375, quarterEss.item<double>(), 12);
    }

    [Fact]
    public void Systematic_resampling_copies_each_particle_floor_or_ceiling_of_N_w_times_and_keeps_the_weighted_mean_in_expectation()
    {
        double[] w = [0.42, 0.03, 0.2, 0.0, 0.35];
        double[] x = [-2.0, 5.0, 0.5, 100.0, 3.0];
        int n = w.Length, draws = 2000;
        using var weights = tensor(w, [1, n]);
        var counts = new double[n];
        double meanOfMeans = 0;
        for (int k = 0; k < draws; k++)
        {
            using var u = tensor(new[] { (k + 0.5) / draws }, [1]); // u evenly over [0, 1): the expectation over u, exactly up to 1/draws
            using var ancestors = ParticleWeights.Systematic(weights, u);
            var picked = ancestors.data<long>().ToArray();
            Assert.Equal(picked.Order(), picked);
            var perParticle = Enumerable.Range(0, n).Select(i => picked.Count(p => p == i)).ToArray();
            for (int i = 0; i < n; i++)
            {
                Assert.InRange(perParticle[i], Math.Floor(n * w[i]), Math.Ceiling(n * w[i]));
                counts[i] += perParticle[i];
            }
            meanOfMeans += picked.Average(p => x[p]);
        }
        for (int i = 0; i < n; i++) Assert.Equal(n * w[i], counts[i] / draws, 3);
        Assert.Equal(w.Zip(x, (a, b) => a * b).Sum(), meanOfMeans / draws, 3);
        Assert.Equal(0, counts[3]); // a particle without weight is never copied
    }

    [Fact]
    public void A_single_draw_picks_each_particle_with_its_weight_and_the_normal_cdf_makes_uniforms()
    {
        double[] w = [0.1, 0.6, 0.3];
        using var weights = tensor(w, [1, 3]);
        var counts = new int[3];
        const int draws = 3000;
        for (int k = 0; k < draws; k++)
        {
            using var u = tensor(new[] { (k + 0.5) / draws }, [1]);
            using var drawn = ParticleWeights.Draw(weights, u);
            counts[drawn.item<long>()]++;
        }
        for (int i = 0; i < 3; i++) Assert.Equal(w[i], counts[i] / (double)draws, 3);

        using var generator = new Generator(4);
        using var normal = randn([20000, 1], generator: generator);
        using var uniform = ParticleWeights.UniformFromNormal(normal);
        Assert.True(uniform.min().item<double>() >= 0 && uniform.max().item<double>() < 1);
        Assert.Equal(0.5, uniform.mean().item<double>(), 2);        // a uniform's mean and variance, within a few standard errors
        Assert.Equal(1.0 / 12, uniform.var().item<double>(), 2);
        using var below = uniform.LessThan(0.1).to(float64).mean();
        Assert.Equal(0.1, below.item<double>(), 2);
    }

    /// <summary>
    /// Two well-separated clusters observed along a line that favours the light one: the exact
    /// posterior puts {exact} on each cluster. Each of 600 samples is one TDS run of 64 particles;
    /// the fraction of samples in each posterior component then has a binomial standard error of
    /// at most √(0.25/600) = 0.020, so 0.07 allows three and a half of them (the finite-particle bias
    /// of the weights comes on top and is well inside that at 64 particles).
    /// </summary>
    [Fact]
    public void Tds_puts_the_exact_posterior_weight_on_each_component_of_a_two_cluster_mixture()
    {
        using var prior = GaussianMixturePrior.Isotropic("two", [2], [0.8, 0.2], [[-2.0, 0.0], [2.0, 0.0]], [0.4, 0.4]);
        using var a = tensor(new float[] { 1, 0.5f }, [1, 2]);
        using var measurement = new MatrixMeasurement(a, [2]);
        var noise = NoiseModel.Gaussian(1.0);
        using var observed = tensor(new float[] { 0.6f }, [1]);
        using var posterior = prior.Posterior(a, observed, noise.SigmaY);
        var exact = posterior.Weights;
        Assert.InRange(exact[0], 0.3, 0.7); // both components matter: the prior's 0.8 is pulled toward the light one

        const int samples = 600;
        using var y = observed.reshape(1, 1).expand(samples, 1).contiguous();
        using var generator = new Generator(11);
        using var tds = GaussianPosteriorCase.FinalState(new Tds(64, 0.5), new SolverContext(prior, measurement, y, noise, 100, samples, generator));
        using var left = tds.select(1, 0).LessThan(0).to(float64).mean();
        Assert.True(Math.Abs(left.item<double>() - exact[0]) < 0.07, $"TDS puts {left.item<double>():0.000} on the left cluster, the exact posterior {exact[0]:0.000}");
    }

    [Fact]
    public void Tds_on_a_gaussian_prior_matches_the_exact_posterior_mean_and_spread()
    {
        using var problem = new GaussianPosteriorCase();
        using var exactMean = problem.Posterior.Mean().to(float32);
        using var exactSpread = problem.Posterior.Covariances[0].diagonal().sqrt().to(float32);
        using var samples = problem.Solve(new Tds(16, 0.5), 800, 100, 3);
        // 800 samples: the mean's standard error is 0.57/√800 = 0.02 per coordinate, the spread's about 0.015.
        using var meanError = (samples.mean([0]) - exactMean).abs().max();
        using var spreadError = (samples.std(0) / exactSpread).log().abs().max();
        Assert.True(meanError.item<float>() < 0.08, $"TDS's mean is {meanError.item<float>():0.000} from the exact posterior mean");
        Assert.True(spreadError.item<float>() < Math.Log(1.12), $"TDS's spread differs from the exact posterior's by a factor exp({spreadError.item<float>():0.000})");
    }

    [Fact]
    public void Every_step_reports_normalised_weights_an_ess_within_one_to_n_and_the_heaviest_particle()
    {
        using var prior = GaussianMixturePresets.TwoClusters();
        using var measurement = new MatrixMeasurement(tensor(new float[] { 1, -2 }, [1, 2]), [2]);
        using var y = full(3, 1, 0.5f);
        using var noise = NoiseSource.PerSample([1, 2, 3]);
        int steps = 0;
        foreach (var step in new Tds(32, 0.5).Solve(new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0.1), 20, 3, noise)))
        {
            steps++;
            var cloud = step.Particles!;
            Assert.Equal([3, 32, 2], cloud.Positions.shape);
            using var sums = cloud.Weights.sum(1);
            Assert.All(sums.data<double>().ToArray(), s => Assert.Equal(1, s, 9));
            Assert.All(cloud.EffectiveSampleSize, e => Assert.InRange(e, 1 - 1e-9, 32 + 1e-9));
            Assert.Equal(2 * steps, step.NetworkEvaluations); // a forward and a backward pass of the whole cloud per step
            Assert.Equal(3, step.Residual.Length);
            // The shown x_t is one of its sample's particles.
            using var distance = (cloud.Positions - step.Xt.unsqueeze(1)).abs().sum(2).min(1).values.max();
            Assert.True(distance.item<float>() < 1e-6);
            if (step.IsFinal)
            {
                using var uniform = cloud.Weights.eq(1.0 / 32).all();
                Assert.True(uniform.item<bool>(), "the final cloud is the system resampled: equal weights");
            }
        }
        Assert.Equal(20, steps);
    }

    [Fact]
    public void Tds_refuses_what_it_cannot_weigh_in_plain_words()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var measurement = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2]);
        using var y = full(2, 1, 1.0f);
        using var generator = new Generator(1);
        var noiseFree = new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0), 10, 2, generator);
        Assert.Contains("measurement noise", Assert.Throws<SolverException>(() => new Tds(8, 0.5).Solve(noiseFree).ToList()).Message);
        var unconditional = new SolverContext(prior, null, null, NoiseModel.Gaussian(0.1), 10, 2, generator);
        Assert.Contains("corruption", Assert.Throws<SolverException>(() => new Tds(8, 0.5).Solve(unconditional).ToList()).Message);
        var noisy = noiseFree with { Noise = NoiseModel.Gaussian(0.1) };
        Assert.Contains("particles", Assert.Throws<SolverException>(() => new Tds(0, 0.5).Solve(noisy).ToList()).Message);
        Assert.Contains("threshold", Assert.Throws<SolverException>(() => new Tds(4, 1.5).Solve(noisy).ToList()).Message);
    }

    [Fact]
    public void Tds_and_daps_leave_no_live_tensors_behind()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var measurement = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2]);
        using var y = full(3, 1, 1.0f);
        using var noise = NoiseSource.PerSample([6, 7, 8]);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        foreach (var solver in new ISolver[] { new Tds(16, 0.5), new Tds(16, 1.0), new Daps(2, 5, 1e-2) })
            foreach (var step in solver.Solve(new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0.1), 60, 3, noise)))
            {
                using var kept = step.X0Hat.clone();
            }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Theory]
    [InlineData("tds")]
    [InlineData("daps")]
    public void A_few_steps_on_the_bundled_pixel_faces_prior_stay_finite_and_report_their_particles(string solver)
    {
        var runner = new Runner(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        var parameters = solver == "tds"
            ? new Dictionary<string, double> { ["particles"] = 3, ["ess"] = 0.5 }
            : new Dictionary<string, double> { ["odeSteps"] = 2, ["langevinSteps"] = 10, ["lr"] = 1e-4 };
        var spec = new ExperimentSpec
        {
            Prior = PriorCatalog.PreferredDefaultId, Image = "gallery:" + runner.Priors.Gallery(PriorCatalog.PreferredDefaultId)[0],
            Corruption = "box-inpainting", Solver = solver, SolverParameters = parameters.ToImmutableSortedDictionary(), Steps = 4, Seed = 2,
        };
        using var run = runner.Prepare(spec);
        var steps = runner.Run(run).ToList();
        Assert.Equal(4, steps.Count);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Psnr) && double.IsFinite(s.Residual), $"step {s.Step}: PSNR {s.Psnr}, residual {s.Residual}"));
        Assert.All(steps, s => Assert.True(s.X0Hat!.Pixels!.Values.All(float.IsFinite)));
        if (solver == "tds") Assert.All(steps, s => Assert.InRange(s.Ess, 1, 3));
        else Assert.All(steps, s => Assert.True(double.IsNaN(s.Ess)));
    }

    [Fact]
    public void On_an_image_prior_TDS_clamps_its_estimate_so_a_longer_run_on_super_resolution_stays_finite()
    {
        // The network's raw x̂0 is wild while x_t is mostly noise; a twist that sharp at it sent the gradient to
        // infinity within ten steps of a 40-step ×2 super-resolution run. Clamped to the image range, as DPS does
        // (the default on images), the run finishes and explains y better than the prior alone.
        var runner = new Runner(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        var spec = new ExperimentSpec
        {
            Prior = PriorCatalog.PreferredDefaultId, Image = "gallery:" + runner.Priors.Gallery(PriorCatalog.PreferredDefaultId)[0],
            Corruption = "super-resolution", Solver = "tds",
            SolverParameters = new Dictionary<string, double> { ["particles"] = 2 }.ToImmutableSortedDictionary(), Steps = 40, Seed = 3,
        };
        double FinalResidual(ExperimentSpec s)
        {
            using var run = runner.Prepare(s);
            var steps = runner.Run(run).ToList();
            Assert.All(steps, step => Assert.True(double.IsFinite(step.Residual), $"{s.Solver} step {step.Step}: residual {step.Residual}"));
            return steps[^1].Residual;
        }
        Assert.True(FinalResidual(spec) < FinalResidual(spec with { Solver = "ddim", SolverParameters = ImmutableSortedDictionary<string, double>.Empty }));
    }
}
