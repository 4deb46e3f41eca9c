using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Ancestral sampling (Ho et al. 2020, Algorithm 2), respaced to S steps: from x_T ~ N(0, I),
/// estimate x̂0 with the prior, then draw x_s from q(x_s | x_t, x̂0). Ignores any measurement.
/// With <c>clipX0</c> (the default, as ADM samples images) x̂0 is clamped to [-1, 1] before each step.
/// </summary>
public sealed class Ddpm(bool clipX0 = true) : ISolver
{
    public string Id => "ddpm";

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        var timesteps = Timesteps.Respace(context.Prior.Schedule.TrainingSteps, context.Steps);
        var start = context.Normal();
        foreach (var step in Reverse(context, new CountedPrior(context.Prior, clipX0), start, timesteps))
            yield return step;
    }

    /// <summary>The reverse process from x at timesteps[0] down to the clean end; SDEdit starts it part-way.</summary>
    internal static IEnumerable<SolverStep> Reverse(SolverContext context, CountedPrior prior, Tensor start, int[] timesteps)
    {
        using var iterate = new CurrentIterate(start);
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            iterate.Advance(() =>
            {
                var (_, x0Hat) = prior.Denoise(iterate.X, t);
                var z = context.Normal();
                return (ReverseUpdate.Ancestral(iterate.X, x0Hat, prior.AlphaBar(t), prior.AlphaBar(s), z), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}
