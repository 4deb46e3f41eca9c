using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

/// <summary>
/// The exact mixture prior against independent computations: finite differences of its
/// density, a dense-covariance formula written out here, and brute-force integration on a grid.
/// </summary>
public class GaussianMixturePriorTests
{
    /// <summary>3 components in 5-D with rank-2 factors plus distinct diagonals, all drawn from a seed.</summary>
    static GaussianMixturePrior RandomLowRankMixture(Generator generator)
    {
        using var means = randn([3, 5], float64, generator: generator) * 2;
        using var diagonal = rand([3, 5], float64, generator: generator) * 0.5 + 0.05;
        using var factors = randn([3, 5, 2], float64, generator: generator) * 0.7;
        return new GaussianMixturePrior("test", [5], [0.2, 0.5, 0.3], means, diagonal, factors);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(150)]
    [InlineData(500)]
    [InlineData(999)]
    public void Eps_is_minus_scaled_finite_difference_score_of_the_log_density(int t)
    {
        using var generator = new Generator(11);
        using var prior = RandomLowRankMixture(generator);
        using var scope = NewDisposeScope();
        double alphaBar = prior.Schedule.AlphaBar(t);
        var x = randn([4, 5], float64, generator: generator) * 2;
        var eps = prior.PredictNoise(x, full(4, (long)t, int64));

        const double h = 1e-5;
        var finiteDifference = zeros(4, 5, float64);
        for (int d = 0; d < 5; d++)
        {
            var step = zeros(1, 5, float64);
            step[0, d] = h;
            var derivative = (prior.LogDensity(x + step, alphaBar) - prior.LogDensity(x - step, alphaBar)) / (2 * h);
            finiteDifference[.., d] = derivative;
        }
        var expected = -Math.Sqrt(1 - alphaBar) * finiteDifference;
        double error = (eps - expected).abs().max().item<double>(), size = expected.abs().max().item<double>();
        Assert.True(error < 1e-5 * Math.Max(1, size), $"ε differs from the finite-difference score by {error} (largest value {size})");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(300)]
    [InlineData(900)]
    public void Low_rank_plus_diagonal_gives_the_same_eps_and_density_as_dense_covariances(int t)
    {
        using var generator = new Generator(5);
        using var prior = RandomLowRankMixture(generator);
        using var scope = NewDisposeScope();
        double a = prior.Schedule.AlphaBar(t);
        var x = randn([6, 5], float64, generator: generator) * 3;

        // The diffused mixture written out densely: C_k = ᾱ Σ_k + (1−ᾱ) I.
        var covariances = a * prior.DenseCovariances() + (1 - a) * eye(5, dtype: float64);
        var offsets = x.unsqueeze(1) - Math.Sqrt(a) * prior.Means.unsqueeze(0);                 // [B, K, D]
        var precisionTimesOffset = linalg.solve(covariances.unsqueeze(0), offsets.unsqueeze(-1)).squeeze(-1);
        var logDet = linalg.slogdet(covariances).Item2;                                        // [K]
        var logJoint = tensor(prior.Weights, dtype: float64).log().unsqueeze(0)
                       - 0.5 * ((offsets * precisionTimesOffset).sum(-1) + logDet.unsqueeze(0) + 5 * Math.Log(2 * Math.PI));
        var expectedLogDensity = logJoint.logsumexp(1);
        var expectedEps = Math.Sqrt(1 - a) * (logJoint.softmax(1).unsqueeze(-1) * precisionTimesOffset).sum(1);

        var eps = prior.PredictNoise(x, full(6, (long)t, int64));
        var logDensity = prior.LogDensity(x, a);
        Assert.True((eps - expectedEps).abs().max().item<double>() < 1e-9, "ε differs from the dense computation");
        Assert.True((logDensity - expectedLogDensity).abs().max().item<double>() < 1e-9, "log-density differs from the dense computation");
    }

    [Fact]
    public void Eps_is_differentiable_and_per_sample_timesteps_act_independently()
    {
        using var prior = GaussianMixturePresets.ImageDemo();
        using var generator = new Generator(3);
        using var scope = NewDisposeScope();
        var x = randn([2, 3, 32, 32], generator: generator).requires_grad_(true);
        var eps = prior.PredictNoise(x, tensor(new long[] { 100, 800 }));
        Assert.Equal(x.shape, eps.shape);
        var gradient = autograd.grad([eps.square().sum()], [x])[0];
        Assert.True(gradient.isfinite().all().item<bool>());
        Assert.True(gradient.abs().sum().item<float>() > 0);

        // Sample 1 alone at t = 800 gives the same ε as inside the mixed batch.
        var alone = prior.PredictNoise(x.detach()[1..2], tensor(new long[] { 800 }));
        Assert.True((alone - eps.detach()[1..2]).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Prior_samples_have_the_mixture_mean_and_covariance()
    {
        using var generator = new Generator(21);
        using var prior = RandomLowRankMixture(generator);
        using var scope = NewDisposeScope();
        var samples = prior.Sample(40_000, generator).to(float64);
        var w = tensor(prior.Weights, dtype: float64);
        var mean = w.matmul(prior.Means);
        var centred = prior.Means - mean;
        var covariance = (w.reshape(3, 1, 1) * (prior.DenseCovariances() + centred.unsqueeze(2) * centred.unsqueeze(1))).sum(dim: 0);
        var sampleMean = samples.mean([0]);
        var sampleCovariance = (samples - sampleMean).t().matmul(samples - sampleMean) / (samples.shape[0] - 1);
        Assert.True((sampleMean - mean).abs().max().item<double>() < 0.05, $"{sampleMean.str()} vs {mean.str()}");
        Assert.True((sampleCovariance - covariance).abs().max().item<double>() < 0.15, $"{sampleCovariance.str()} vs {covariance.str()}");
    }

    [Fact]
    public void Posterior_moments_and_density_match_brute_force_integration_on_a_grid()
    {
        using var prior = GaussianMixturePresets.TwoClusters();
        using var scope = NewDisposeScope();
        var a = tensor(new double[] { 1.0, 0.6 }, [1, 2], float64);
        const double sigmaY = 0.4, observed = 0.8;
        using var posterior = prior.Posterior(a, tensor(new[] { observed }), sigmaY);

        // Brute force: p(x | y) ∝ p0(x) N(y; A x, σ²) on a fine grid.
        var grid = new PlaneGrid(-6, 6, -6, 6, 481, 481);
        var points = grid.Points();
        var residual = observed - points.matmul(a.t()).squeeze(1);
        var logUnnormalised = prior.LogDensity(points, 1.0) - 0.5 * residual.square() / (sigmaY * sigmaY);
        var cell = (12.0 / 480) * (12.0 / 480);
        var logNormaliser = logUnnormalised.logsumexp(0) + Math.Log(cell);
        var weights = (logUnnormalised - logNormaliser).exp() * cell;
        var bruteMean = weights.matmul(points);
        var centred = points - bruteMean;
        var bruteCovariance = (centred * weights.unsqueeze(1)).t().matmul(centred);

        var w = tensor(posterior.Weights, dtype: float64);
        var exactMean = posterior.Mean();
        var componentOffsets = posterior.Means - exactMean;
        var exactCovariance = (w.reshape(-1, 1, 1) * (posterior.Covariances + componentOffsets.unsqueeze(2) * componentOffsets.unsqueeze(1))).sum(dim: 0);
        Assert.True((exactMean - bruteMean).abs().max().item<double>() < 1e-3, $"mean {exactMean.str()} vs {bruteMean.str()}");
        Assert.True((exactCovariance - bruteCovariance).abs().max().item<double>() < 1e-3, $"covariance {exactCovariance.str()} vs {bruteCovariance.str()}");

        // The exact posterior density, drawn on a grid, is the normalised brute-force one.
        var drawn = tensor(posterior.LogDensityOnGrid(grid), dtype: float64);
        var reference = logUnnormalised - logNormaliser;
        var where = reference > -10; // where the density is not negligible
        double densityError = (drawn - reference).abs().masked_select(where).max().item<double>();
        Assert.True(densityError < 1e-3, $"log-density differs by {densityError}");

        // Its sampler draws from it: sample moments agree.
        using var generator = new Generator(8);
        var samples = posterior.Sample(40_000, generator).to(float64);
        Assert.True((samples.mean([0]) - exactMean).abs().max().item<double>() < 0.03);
    }

    [Fact]
    public void Posterior_from_a_matrix_free_linear_operator_equals_the_explicit_matrix_one()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var scope = NewDisposeScope();
        var y = tensor(new float[] { 1.5f });
        var noise = NoiseModel.Gaussian(0.3);
        var measurement = new DifferenceOfCoordinates();
        using var viaForward = prior.Posterior(measurement, y, noise);
        using var viaMatrix = prior.Posterior(tensor(new double[] { 1, -1 }, [1, 2]), y, 0.3);
        Assert.True((viaForward.Means - viaMatrix.Means).abs().max().item<double>() < 1e-6);
        Assert.Equal(viaMatrix.Weights, viaForward.Weights, (p, q) => Math.Abs(p - q) < 1e-6);
    }

    [Fact]
    public void Noise_free_posterior_still_samples_on_the_measured_line()
    {
        using var prior = GaussianMixturePresets.Grid();
        using var scope = NewDisposeScope();
        using var posterior = prior.Posterior(tensor(new double[] { 1, 0 }, [1, 2]), tensor(new[] { 0.2 }), 0.0);
        using var generator = new Generator(4);
        var samples = posterior.Sample(1000, generator);
        Assert.True(samples.isfinite().all().item<bool>());
        Assert.True((samples[.., 0] - 0.2).abs().max().item<float>() < 1e-3);
    }

    [Fact]
    public void Benchmark_mixture_has_25_unit_components_on_the_grid_repeated_over_dimensions()
    {
        using var generator = new Generator(1);
        using var prior = GaussianMixturePresets.Benchmark(8, generator);
        Assert.Equal(25, prior.ComponentCount);
        Assert.Equal(1.0, prior.Weights.Sum(), 10);
        var means = prior.Means.data<double>().ToArray();
        for (int k = 0; k < 25; k++)
            for (int d = 2; d < 8; d++)
                Assert.Equal(means[k * 8 + d % 2], means[k * 8 + d]);
        Assert.Equal(new[] { -16.0, -8, 0, 8, 16 }, means.Distinct().Order());
        using var covariances = prior.DenseCovariances();
        using var identity = eye(8, dtype: float64);
        Assert.True((covariances - identity).abs().max().item<double>() == 0);
    }

    /// <summary>y = x₁ − x₂ without an explicit matrix, to exercise materialising A from Forward.</summary>
    sealed class DifferenceOfCoordinates : IMeasurement
    {
        public string Id => "difference";
        public bool IsLinear => true;
        public long[] InputShape => [2];
        public long[] OutputShape => [1];
        public Tensor Forward(Tensor x) => (x[.., 0] - x[.., 1]).unsqueeze(1);
        public Tensor Adjoint(Tensor y) => cat([y, -y], 1);
        public Tensor BackProject(Tensor y) => cat([y / 2, -y / 2], 1);
    }
}
