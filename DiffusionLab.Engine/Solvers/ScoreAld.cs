using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Annealed Langevin dynamics with a likelihood term (Jalal et al. 2021). Works in variance-
/// exploding coordinates x̃ = x_t/√ᾱ_t, noise level σ(t) = √((1−ᾱ_t)/ᾱ_t), score
/// s(x̃, σ) = −ε(√ᾱ x̃, t)/σ (docs/maths.md §4). For L levels σ_1 &gt; … &gt; σ_L, K steps each:
/// x̃ ← x̃ + α_i [ s(x̃, σ_i) + Aᵀ(y − A x̃)/(σ_y² + σ_i²) ] + √(2α_i) z,  α_i = ε σ_i²/σ_L².
/// It takes L·K steps whatever the run's step count says. Needs Aᵀ, so only linear corruptions.
/// The levels are geometric in σ by default, as in Jalal et al.'s code (NCSN's ladder, see
/// <see cref="Timesteps.GeometricInSigma"/>); <see cref="LevelSpacing.EvenInTimestep"/> spaces them
/// evenly in VP time instead, which puts most of them at σ &gt; 1 and makes the last jumps large.
/// </summary>
public sealed class ScoreAld(int levels, int stepsPerLevel, double epsilon, LevelSpacing spacing = LevelSpacing.Geometric) : ISolver
{
    public string Id => "score-ald";

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (levels < 1 || stepsPerLevel < 1) throw new SolverException("ScoreALD needs at least one noise level and one step per level.");
        if (!(epsilon > 0)) throw new SolverException("ScoreALD's step scale ε must be positive.");
        var measurement = context.RequireLinear("ScoreALD");
        var y = context.Y ?? throw new SolverException("ScoreALD needs a measurement y.");
        double noiseVariance = context.Noise.SigmaY * context.Noise.SigmaY;
        var prior = new CountedPrior(context.Prior);
        var levelTimesteps = spacing == LevelSpacing.Geometric
            ? Timesteps.GeometricInSigma(prior.Schedule, levels)
            : Timesteps.Respace(prior.Schedule.TrainingSteps, levels);
        double Sigma(int t) => Math.Sqrt((1 - prior.AlphaBar(t)) / prior.AlphaBar(t));
        double smallestSigma = Sigma(levelTimesteps[^1]);
        int total = levelTimesteps.Length * stepsPerLevel;

        // x_T ~ N(0, I) in VP coordinates; the reported x_t is always √ᾱ x̃ so it stays on the image scale.
        Tensor ve;
        using (var scope = NewDisposeScope())
            ve = context.Normal().DividedBy(Math.Sqrt(prior.AlphaBar(levelTimesteps[0]))).MoveToOuterDisposeScope();
        using var iterate = new CurrentIterate(ve);
        int index = 0;
        foreach (int t in levelTimesteps)
        {
            double sigma = Sigma(t), alphaBar = prior.AlphaBar(t);
            double stepSize = epsilon * sigma * sigma / (smallestSigma * smallestSigma);
            for (int k = 0; k < stepsPerLevel; k++, index++)
            {
                iterate.Advance(() =>
                {
                    var x = iterate.X;
                    var eps = prior.Epsilon(x.Times(Math.Sqrt(alphaBar)), t);
                    var score = (-eps).DividedBy(sigma);
                    var likelihood = measurement.Adjoint(y - measurement.Forward(x)).DividedBy(noiseVariance + sigma * sigma);
                    var z = context.Normal();
                    var next = x.Plus(score.Plus(likelihood).Times(stepSize)).Plus(z.Times(Math.Sqrt(2 * stepSize)));
                    if (!next.isfinite().all().item<bool>())
                        throw new SolverException($"ScoreALD diverged at noise level σ = {sigma:0.###} (step {index + 1}): the step scale ε = {epsilon:g3} is too large for this problem. Try a smaller ε.");
                    return (next, x - eps.Times(sigma)); // Tweedie in VE coordinates: x̂0 = x̃ + σ² s
                });
                using var reported = iterate.X.Times(Math.Sqrt(alphaBar));
                yield return new SolverStep(index, total, t, reported, iterate.X0Hat!, DataResidual.PerSample(context, iterate.X0Hat!), prior.Evaluations);
            }
        }
    }
}

/// <summary>How ScoreALD's noise levels are spread between the largest and the smallest.</summary>
public enum LevelSpacing
{
    /// <summary>Each level a fixed fraction below the last (Jalal et al.'s code, NCSN's ladder).</summary>
    Geometric,
    /// <summary>Evenly spaced timesteps of the VP schedule.</summary>
    EvenInTimestep,
}
