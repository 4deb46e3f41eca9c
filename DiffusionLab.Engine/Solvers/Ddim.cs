using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// DDIM (Song, Meng &amp; Ermon 2021): x_s = √ᾱ_s x̂0 + √(1−ᾱ_s−σ²) ε + σ z with
/// σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s). η = 0 is deterministic, η = 1 is ancestral sampling.
/// With <c>clipX0</c> (the default, as ADM does) x̂0 is clamped to [-1, 1] and ε recomputed from it.
/// </summary>
public sealed class Ddim(double eta, bool clipX0 = true) : ISolver
{
    public string Id => "ddim";
    public double Eta => eta;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(eta >= 0 && eta <= 1)) throw new SolverException("DDIM's η must be between 0 and 1.");
        var prior = new CountedPrior(context.Prior, clipX0);
        var timesteps = Timesteps.Respace(prior.Schedule.TrainingSteps, context.Steps);
        using var iterate = new CurrentIterate(context.Normal());
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            iterate.Advance(() =>
            {
                var (eps, x0Hat) = prior.Denoise(iterate.X, t);
                var z = eta > 0 ? context.Normal() : zeros_like(eps);
                return (ReverseUpdate.Ddim(x0Hat, eps, prior.AlphaBar(t), prior.AlphaBar(s), eta, z), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}
