using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// SDEdit (Meng et al. 2022): noise a guide image made from y up to strength t0 ∈ (0, 1],
/// x_{t0} = √ᾱ_{t0} x^g + √(1−ᾱ_{t0}) z, then run the unconditional reverse process (ancestral,
/// respaced) from t0 to 0. The guide is A's back-projection of y; A is not used again.
/// Its reverse process clamps x̂0 to [-1, 1] as DDPM does unless <c>clipX0</c> is off.
/// </summary>
public sealed class Sdedit(double strength, bool clipX0 = true) : ISolver
{
    public string Id => "sdedit";
    public double Strength => strength;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(strength > 0 && strength <= 1)) throw new SolverException("SDEdit's strength t0 must be above 0 and at most 1.");
        var measurement = context.RequireMeasurement("SDEdit");
        var y = context.Y ?? throw new SolverException("SDEdit needs a measurement y to make its guide image.");
        var prior = new CountedPrior(context.Prior, clipX0);
        int trainingSteps = prior.Schedule.TrainingSteps;
        int start = Math.Clamp((int)Math.Round(strength * trainingSteps) - 1, 0, trainingSteps - 1);
        var timesteps = Timesteps.Respace(trainingSteps, context.Steps, start);

        Tensor startingPoint;
        using (var scope = NewDisposeScope())
        {
            var guide = measurement.BackProject(y).reshape(context.BatchShape).to(float32);
            var z = context.Normal();
            double a = prior.AlphaBar(start);
            startingPoint = guide.Times(Math.Sqrt(a)).Plus(z.Times(Math.Sqrt(1 - a))).MoveToOuterDisposeScope();
        }
        foreach (var step in Ddpm.Reverse(context, prior, startingPoint, timesteps))
            yield return step;
    }
}
