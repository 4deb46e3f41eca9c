using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The prior as a solver calls it: the whole batch at one timestep, counting network
/// evaluations (a backward pass through the network counts as one more).
/// </summary>
sealed class CountedPrior(IDenoiser prior)
{
    public IDenoiser Prior => prior;
    public NoiseSchedule Schedule => prior.Schedule;
    public int Evaluations { get; private set; }

    /// <summary>ᾱ at a timestep index, 1 for index −1 (the clean end).</summary>
    public double AlphaBar(int t) => prior.Schedule.AlphaBar(t);

    public Tensor Epsilon(Tensor xt, int t)
    {
        Evaluations++;
        using var timesteps = ScalarArithmetic.Full([xt.shape[0]], (long)t, int64, xt.device);
        return prior.PredictNoise(xt, timesteps);
    }

    /// <summary>Whether the prior predicts its reverse-step variance (an ADM network with learned σ).</summary>
    public bool LearnsVariance => prior is ILearnedVariance { LearnsVariance: true };

    /// <summary>ε and the variance value v at one timestep, from one network call.</summary>
    public (Tensor Eps, Tensor VarianceValue) EpsilonAndVariance(Tensor xt, int t)
    {
        Evaluations++;
        using var timesteps = ScalarArithmetic.Full([xt.shape[0]], (long)t, int64, xt.device);
        return ((ILearnedVariance)prior).PredictNoiseAndVariance(xt, timesteps);
    }

    /// <summary>Refuses, in words, a learned-variance run on a prior that has none.</summary>
    public void RequireLearnedVariance(string solver)
    {
        if (!LearnsVariance)
            throw new SolverException($"{solver} was asked for the learned variance, but {prior.Name} does not predict one (only ADM networks with learn_sigma do); choose the fixed variance.");
    }

    /// <summary>ε and Tweedie's x̂0 = (x_t − √(1−ᾱ) ε)/√ᾱ at one timestep.</summary>
    public (Tensor Eps, Tensor X0Hat) Denoise(Tensor xt, int t)
    {
        var eps = Epsilon(xt, t);
        return (eps, X0Hat(xt, eps, t));
    }

    /// <summary>Tweedie's x̂0 from x_t and its ε at one timestep.</summary>
    public Tensor X0Hat(Tensor xt, Tensor eps, int t)
    {
        double a = AlphaBar(t);
        return (xt - eps.Times(Math.Sqrt(1 - a))).DividedBy(Math.Sqrt(a));
    }

    /// <summary>
    /// ε at x_t and ∇_{x_t} of a per-sample loss through the network (a forward and a backward pass:
    /// two evaluations). A prior shared by several runs batches this with their steps.
    /// </summary>
    public GuidedPrediction EpsilonWithGradient(Tensor xt, int t, Func<Tensor, Tensor, Tensor> perSampleLoss)
    {
        Evaluations += 2;
        using var timesteps = ScalarArithmetic.Full([xt.shape[0]], (long)t, int64, xt.device);
        return prior is IGuidedDenoiser guided
            ? guided.PredictNoiseWithGradient(xt, timesteps, perSampleLoss)
            : GuidedPrediction.Direct(prior, xt, timesteps, perSampleLoss);
    }

}
