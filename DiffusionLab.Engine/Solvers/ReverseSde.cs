using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The reverse VP-SDE of Song et al. (2021), dx = [−½β(u) x − β(u) ∇log p_u(x)] du + √β(u) dw̄,
/// integrated from u = 1 to 0 by Euler–Maruyama on the respaced grid u = (t + 1)/T, with the
/// score s = −ε/√(1−ᾱ_t). The last step adds no noise (it lands on the data).
/// The score is the network's own (Song et al. do not clip); <c>clipX0</c> makes it the score of the clamped x̂0 instead.
/// </summary>
public sealed class ReverseSde(bool clipX0 = false) : ISolver
{
    public string Id => "reverse-sde";

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        var prior = new CountedPrior(context.Prior, clipX0);
        var schedule = prior.Schedule;
        var timesteps = Timesteps.Respace(schedule.TrainingSteps, context.Steps);
        using var iterate = new CurrentIterate(context.Normal());
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            double du = schedule.ContinuousTime(t) - schedule.ContinuousTime(s), beta = schedule.SdeBeta(t);
            bool last = s < 0;
            iterate.Advance(() =>
            {
                var (eps, x0Hat) = prior.Denoise(iterate.X, t);
                var score = (-eps).DividedBy(Math.Sqrt(1 - prior.AlphaBar(t)));
                var drift = iterate.X.Times(0.5 * beta).Plus(score.Times(beta));   // minus the forward drift, minus β·score, reversed in time
                var next = iterate.X.Plus(drift.Times(du));
                if (!last) next = next.Plus(context.Normal().Times(Math.Sqrt(beta * du)));
                return (next, x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}
