using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>DAPS against the closed form a Gaussian prior and a linear-Gaussian measurement give.</summary>
public class DapsTests
{
    /// <summary>
    /// N(m, 0.8² I) in 4-D, two orthogonal combinations observed with σ_y = 0.1: the exact posterior
    /// mean is 1.1 away from the prior's. DAPS's Gaussian stand-in for p(x0 | x_t) is not exact, so its
    /// spread is not either, but its mean must land on the posterior's: 1 000 samples give a standard
    /// error of about 0.023 per coordinate, and 0.1 allows four of them.
    /// </summary>
    [Fact]
    public void Daps_on_a_gaussian_prior_lands_on_the_exact_posterior_mean()
    {
        using var problem = new GaussianPosteriorCase();
        using var exactMean = problem.Posterior.Mean().to(float32);
        using var priorMean = problem.Prior.Means[0].to(float32);
        using var samples = problem.Solve(new Daps(5, 100, 1e-2), 1000, 100, 3);
        using var error = (samples.mean([0]) - exactMean).abs().max();
        using var shift = (exactMean - priorMean).norm();
        Assert.True(shift.item<float>() > 1, "the measurement must move the posterior well away from the prior");
        Assert.True(error.item<float>() < 0.1, $"DAPS's mean is {error.item<float>():0.000} from the exact posterior mean (the prior's is {shift.item<float>():0.00} away)");
    }

    [Fact]
    public void Daps_holds_its_langevin_step_below_the_stability_limit_of_a_sharp_measurement()
    {
        // σ_y = 0.001 makes the likelihood's curvature 10⁶: an uncapped η = 0.5 would explode at once.
        using var prior = GaussianMixturePresets.Ring();
        using var measurement = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2]);
        using var y = full(50, 1, 2.0f);
        using var generator = new Generator(5);
        using var samples = GaussianPosteriorCase.FinalState(new Daps(3, 30, 0.5), new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0.001), 30, 50, generator));
        Assert.True(samples.isfinite().all().item<bool>());
        using var first = samples.select(1, 0);
        using var error = (first - 2).abs().max();
        Assert.True(error.item<float>() < 0.05, $"the observed coordinate should sit on y = 2, off by up to {error.item<float>():0.000}");
    }

    [Fact]
    public void Daps_refuses_what_it_cannot_run_in_plain_words()
    {
        using var prior = GaussianMixturePresets.Ring();
        using var measurement = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2]);
        using var y = full(2, 1, 1.0f);
        using var generator = new Generator(1);
        var context = new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0), 10, 2, generator);
        Assert.Contains("measurement noise", Assert.Throws<SolverException>(() => new Daps(2, 5, 1e-3).Solve(context).ToList()).Message);
        var noisy = context with { Noise = NoiseModel.Gaussian(0.1) };
        Assert.Contains("ODE step", Assert.Throws<SolverException>(() => new Daps(0, 5, 1e-3).Solve(noisy).ToList()).Message);
        Assert.Contains("step size", Assert.Throws<SolverException>(() => new Daps(2, 5, -1).Solve(noisy).ToList()).Message);
        Assert.Contains("corruption", Assert.Throws<SolverException>(() => new Daps(2, 5, 1e-3).Solve(noisy with { Measurement = null, Y = null }).ToList()).Message);
    }
}
