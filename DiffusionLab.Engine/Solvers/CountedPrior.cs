using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The prior as a solver calls it: the whole batch at one timestep, counting network
/// evaluations (a backward pass through the network counts as one more).
/// </summary>
/// <param name="clipX0">ADM's clip_denoised: x̂0 is clamped to the image range [-1, 1] and ε is replaced
/// by the ε that corresponds to the clamped x̂0 at x_t, so every update built from (ε, x̂0) sees the
/// same clipped estimate. A solver setting, never part of the prior: the reverse SDE, the
/// probability-flow ODE and ScoreALD integrate the network's own score. Only image priors ([C, H, W]
/// samples) are clipped: the points of a vector prior (the 2-D lab, the benchmark) have no image range.</param>
sealed class CountedPrior(IDenoiser prior, bool clipX0 = false)
{
    readonly bool clip = clipX0 && prior.SampleShape.Length == 3;

    public IDenoiser Prior => prior;
    public NoiseSchedule Schedule => prior.Schedule;
    public int Evaluations { get; private set; }

    /// <summary>ᾱ at a timestep index, 1 for index −1 (the clean end).</summary>
    public double AlphaBar(int t) => prior.Schedule.AlphaBar(t);

    /// <summary>ε at one timestep (the ε of the clipped x̂0 when this prior clips).</summary>
    public Tensor Epsilon(Tensor xt, int t) => Denoise(xt, t).Eps;

    /// <summary>ε and Tweedie's x̂0 = (x_t − √(1−ᾱ) ε)/√ᾱ at one timestep, both of the clipped x̂0 when this prior clips.</summary>
    public (Tensor Eps, Tensor X0Hat) Denoise(Tensor xt, int t)
    {
        Evaluations++;
        using var timesteps = ScalarArithmetic.Full([xt.shape[0]], (long)t, int64, xt.device);
        var eps = prior.PredictNoise(xt, timesteps);
        var x0Hat = X0Hat(xt, eps, t);
        if (!clip) return (eps, x0Hat);
        double a = AlphaBar(t);
        var clipped = x0Hat.Clamped(-1, 1);
        return ((xt - clipped.Times(Math.Sqrt(a))).DividedBy(Math.Sqrt(1 - a)), clipped);
    }

    /// <summary>Whether the prior predicts its reverse-step variance (an ADM network with learned σ).</summary>
    public bool LearnsVariance => prior is ILearnedVariance { LearnsVariance: true };

    /// <summary>ε, x̂0 and the variance value v at one timestep, from one network call; ε and x̂0 are of the clipped
    /// x̂0 when this prior clips, as guided-diffusion clips before it forms the step's mean.</summary>
    public (Tensor Eps, Tensor X0Hat, Tensor VarianceValue) DenoiseWithVariance(Tensor xt, int t)
    {
        Evaluations++;
        using var timesteps = ScalarArithmetic.Full([xt.shape[0]], (long)t, int64, xt.device);
        var (eps, value) = ((ILearnedVariance)prior).PredictNoiseAndVariance(xt, timesteps);
        var x0Hat = X0Hat(xt, eps, t);
        if (!clip) return (eps, x0Hat, value);
        double a = AlphaBar(t);
        var clipped = x0Hat.Clamped(-1, 1);
        return ((xt - clipped.Times(Math.Sqrt(a))).DividedBy(Math.Sqrt(1 - a)), clipped, value);
    }

    /// <summary>Refuses, in words, a learned-variance run on a prior that has none.</summary>
    public void RequireLearnedVariance(string solver)
    {
        if (!LearnsVariance)
            throw new SolverException($"{solver} was asked for the learned variance, but {prior.Name} does not predict one (only ADM networks with learn_sigma do); choose the fixed variance.");
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
