using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

public enum OdeMethod { Euler, Heun }

/// <summary>
/// The probability-flow ODE of Song et al. (2021), dx/du = −½β(u) [x + ∇log p_u(x)], integrated
/// deterministically from u = 1 to 0 on the respaced grid by Euler or Heun (Karras et al. 2022:
/// a second evaluation at the end of each step, except the last, which lands on u = 0 with Euler).
/// The score is the network's own (Song et al. do not clip); <c>clipX0</c> makes it the score of the clamped x̂0 instead.
/// </summary>
public sealed class ProbabilityFlow(OdeMethod method, bool clipX0 = false) : ISolver
{
    public string Id => "probability-flow";
    public OdeMethod Method => method;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        var prior = new CountedPrior(context.Prior, clipX0);
        var schedule = prior.Schedule;
        var timesteps = Timesteps.Respace(schedule.TrainingSteps, context.Steps);
        using var iterate = new CurrentIterate(context.Normal());

        // The ODE's velocity in reversed time (d/d(−u)), and x̂0 at the same evaluation.
        (Tensor Velocity, Tensor X0Hat) Velocity(Tensor x, int t)
        {
            var (eps, x0Hat) = prior.Denoise(x, t);
            var score = (-eps).DividedBy(Math.Sqrt(1 - prior.AlphaBar(t)));
            return (x.Plus(score).Times(0.5 * schedule.SdeBeta(t)), x0Hat);
        }

        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            double du = schedule.ContinuousTime(t) - schedule.ContinuousTime(s);
            iterate.Advance(() =>
            {
                var (velocity, x0Hat) = Velocity(iterate.X, t);
                var euler = iterate.X.Plus(velocity.Times(du));
                if (method == OdeMethod.Euler || s < 0) return (euler, x0Hat);
                var (velocityAtEnd, _) = Velocity(euler, s);
                return (iterate.X.Plus(velocity.Plus(velocityAtEnd).Times(0.5).Times(du)), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}
