using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Ancestral sampling (Ho et al. 2020, Algorithm 2), respaced to S steps: from x_T ~ N(0, I),
/// estimate x̂0 with the prior, then draw x_s from q(x_s | x_t, x̂0). Ignores any measurement.
/// With <c>clipX0</c> (the default, as ADM samples images) x̂0 is clamped to [-1, 1] before each step.
/// With <paramref name="learnedVariance"/> the draw's variance is the one the network predicts (an ADM network with
/// learned σ), as guided-diffusion samples; otherwise the posterior's β̃.
/// </summary>
public sealed class Ddpm(bool clipX0 = true, bool learnedVariance = false) : ISolver
{
    public string Id => "ddpm";

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        var timesteps = Timesteps.Respace(context.Prior.Schedule.TrainingSteps, context.Steps);
        var prior = new CountedPrior(context.Prior, clipX0);
        if (learnedVariance) prior.RequireLearnedVariance("DDPM");
        var start = context.Normal();
        foreach (var step in Reverse(context, prior, start, timesteps, learnedVariance))
            yield return step;
    }

    /// <summary>The reverse process from x at timesteps[0] down to the clean end; SDEdit starts it part-way.</summary>
    internal static IEnumerable<SolverStep> Reverse(SolverContext context, CountedPrior prior, Tensor start, int[] timesteps, bool learnedVariance = false)
    {
        using var iterate = new CurrentIterate(start);
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            iterate.Advance(() =>
            {
                if (learnedVariance)
                {
                    var (_, estimate, value) = prior.DenoiseWithVariance(iterate.X, t);
                    return (ReverseUpdate.AncestralLearned(iterate.X, estimate, prior.AlphaBar(t), prior.AlphaBar(s), context.Normal(), value), estimate);
                }
                var (_, x0Hat) = prior.Denoise(iterate.X, t);
                var z = context.Normal();
                return (ReverseUpdate.Ancestral(iterate.X, x0Hat, prior.AlphaBar(t), prior.AlphaBar(s), z), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}
