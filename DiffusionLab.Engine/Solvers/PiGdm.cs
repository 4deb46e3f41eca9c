using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Pseudoinverse-guided diffusion (ΠGDM, Song et al. 2023) for linear A, within DDIM. It takes
/// p(x0 | x_t) ≈ N(x̂0, r_t² I) with r_t² = 1 − ᾱ_t (the paper's σ_t²/(1+σ_t²), which is exact for
/// a standard normal x0), so p(y | x_t) ≈ N(A x̂0, r_t² A Aᵀ + σ_y² I) and the likelihood score is
/// g = (∂x̂0/∂x_t)ᵀ Aᵀ (r_t² A Aᵀ + σ_y² I)⁻¹ (y − A x̂0):
/// u solves (r_t² A Aᵀ + σ_y² I) u = y − A x̂0 by conjugate gradients, then one backward pass through
/// the network gives the vector-Jacobian product g = ∇_{x_t} ⟨Aᵀu, x̂0(x_t)⟩ with u held fixed.
/// The conditional score is the prior's plus g: ε̃ = ε − √(1−ᾱ_t) g, x̃0 = (x_t − √(1−ᾱ_t) ε̃)/√ᾱ_t,
/// and x_s = √ᾱ_s x̃0 + √(1−ᾱ_s−c²) ε̃ + c z with DDIM's c = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s).
/// Two network evaluations per step (forward and backward). For a N(m, I) prior every
/// approximation above is exact, so with η = 1 the samples approach the exact posterior as steps grow.
/// <para>
/// With <see cref="PiGdmWeighting.AuthorsCode"/> the guidance is instead added to the unguided DDIM step
/// with the weight the authors' group's code uses, x_s = DDIM(x̂0, ε) + √ᾱ_s √ᾱ_t r_t² g: far weaker
/// at large t, where an image prior's x̂0 depends on x_t much more steeply than the Gaussian
/// picture's r_t² assumes and the score form overshoots.
/// </para>
/// </summary>
public sealed class PiGdm(double eta, bool clipX0Hat, PiGdmWeighting weighting = PiGdmWeighting.Score,
    int cgIterations = PiGdm.DefaultCgIterations) : ISolver
{
    public const int DefaultCgIterations = 50;

    /// <summary>Each guidance solve stops at this relative residual: far below what one DDIM step can notice.</summary>
    const double CgTolerance = 1e-5;

    public string Id => "pigdm";
    public double Eta => eta;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(eta >= 0 && eta <= 1)) throw new SolverException("ΠGDM's η must be between 0 and 1.");
        if (cgIterations < 1) throw new SolverException("ΠGDM needs at least one conjugate-gradient step.");
        var measurement = context.RequireLinear("ΠGDM");
        var y = context.Y ?? throw new SolverException("ΠGDM needs a measurement y.");
        double sigmaY = Math.Max(context.Noise.SigmaY, MapProblem.MinimumSigmaY);
        var prior = new CountedPrior(context.Prior);
        var timesteps = Timesteps.Respace(prior.Schedule.TrainingSteps, context.Steps);

        using var iterate = new CurrentIterate(context.Normal());
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            iterate.Advance(() =>
            {
                double alphaBarT = prior.AlphaBar(t), r2 = 1 - alphaBarT;
                var guided = prior.EpsilonWithGradient(iterate.X, t, (x, eps) =>
                {
                    var estimate = prior.X0Hat(x, eps, t);
                    if (clipX0Hat) estimate = estimate.Clamped(-1, 1);
                    Tensor direction; // Aᵀu, held fixed: the backward pass then gives (∂x̂0/∂x_t)ᵀ Aᵀu
                    using (no_grad())
                    {
                        var misfit = y - measurement.Forward(estimate.detach());
                        var u = ConjugateGradient.Solve(v =>
                        {
                            using var back = measurement.Adjoint(v);
                            using var forward = measurement.Forward(back);
                            return forward.Times(r2).PlusScaledInPlace(v, sigmaY * sigmaY);
                        }, misfit, null, cgIterations, CgTolerance).Solution;
                        direction = measurement.Adjoint(u);
                    }
                    return (direction * estimate).flatten(1).sum(1);
                });
                var score = guided.Gradient;
                if (!score.isfinite().all().item<bool>())
                    throw new SolverException($"ΠGDM's guidance became infinite or NaN at step {i + 1} (t = {t}). Try fewer steps or turn on x̂0 clipping.");
                var eps = guided.Epsilon;
                if (clipX0Hat)
                    eps = Tweedie.EpsFromX0(iterate.X, prior.X0Hat(iterate.X, eps, t).Clamped(-1, 1), ScalarArithmetic.Full([eps.shape[0]], alphaBarT, float32));
                double alphaBarS = prior.AlphaBar(s);
                var z = eta > 0 ? context.Normal() : zeros_like(eps);
                if (weighting == PiGdmWeighting.AuthorsCode)
                {
                    var unguided = ReverseUpdate.Ddim(prior.X0Hat(iterate.X, eps, t), eps, alphaBarT, alphaBarS, eta, z);
                    var step = unguided.Plus(score.Times(Math.Sqrt(alphaBarS * alphaBarT) * r2));
                    return (step, s < 0 ? step : prior.X0Hat(iterate.X, eps, t));
                }
                var guidedEps = eps - score.Times(Math.Sqrt(r2));
                var x0Hat = prior.X0Hat(iterate.X, guidedEps, t);
                return (ReverseUpdate.Ddim(x0Hat, guidedEps, alphaBarT, alphaBarS, eta, z), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }
}

/// <summary>How ΠGDM's guidance g enters the DDIM step.</summary>
public enum PiGdmWeighting
{
    /// <summary>As the likelihood score, added to the prior's: exact for a N(m, I) prior.</summary>
    Score,
    /// <summary>Added to the unguided step with weight √ᾱ_s √ᾱ_t r_t², as the authors' group's code does.</summary>
    AuthorsCode,
}
