using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// A Gaussian prior N(m, 0.8² I) in 4-D with two orthogonal combinations observed at σ_y = 0.1: the
/// exact posterior is Gaussian and in closed form, its mean 1.1 away from the prior's.
/// </summary>
sealed class GaussianPosteriorCase : IDisposable
{
    public GaussianMixturePrior Prior { get; } = GaussianMixturePrior.Isotropic("g", [4], [1.0], [[1.0, -0.5, 0.3, 0.0]], [0.8]);
    readonly Tensor a = tensor(new float[] { 1, 1, 0, 0, 0, 0, 1, -1 }, [2, 4]);
    readonly Tensor observed = tensor(new float[] { 2.0f, -1.0f });
    public MatrixMeasurement Measurement { get; }
    public NoiseModel Noise { get; } = NoiseModel.Gaussian(0.1);
    public GaussianMixturePosterior Posterior { get; }

    public GaussianPosteriorCase()
    {
        Measurement = new MatrixMeasurement(a, [4]);
        Posterior = Prior.Posterior(a, observed, Noise.SigmaY);
    }

    /// <summary>The final x of <paramref name="count"/> samples of the solver on this problem, [count, 4].</summary>
    public Tensor Solve(ISolver solver, int count, int steps, ulong seed)
    {
        using var y = observed.unsqueeze(0).expand(count, 2).contiguous();
        using var generator = new Generator(seed);
        return FinalState(solver, new SolverContext(Prior, Measurement, y, Noise, steps, count, generator));
    }

    /// <summary>A run's last x (the answer a sampler returns), cloned out of the solver.</summary>
    public static Tensor FinalState(ISolver solver, SolverContext context)
    {
        Tensor? last = null;
        foreach (var step in solver.Solve(context))
            if (step.IsFinal) last = step.Xt.clone();
        return last!;
    }

    public void Dispose()
    {
        Prior.Dispose();
        a.Dispose();
        observed.Dispose();
        Measurement.Dispose();
        Posterior.Dispose();
    }
}
