using static TorchSharp.torch;

namespace DiffusionLab.Engine.Diffusion;

/// <summary>
/// One move of the discrete reverse process from timestep t to an earlier kept timestep s
/// (respaced, docs/maths.md §1), given the current x̂0. ᾱ_s = 1 means "to the clean image".
/// </summary>
public static class ReverseUpdate
{
    /// <summary>
    /// DDPM's ancestral step, a draw from q(x_s | x_t, x̂0) with the respaced β = 1 − ᾱ_t/ᾱ_s:
    /// x_s = [√ᾱ_s β / (1−ᾱ_t)] x̂0 + [√(ᾱ_t/ᾱ_s) (1−ᾱ_s) / (1−ᾱ_t)] x_t + σ z, σ² = (1−ᾱ_s) β / (1−ᾱ_t).
    /// </summary>
    public static Tensor Ancestral(Tensor xt, Tensor x0Hat, double alphaBarT, double alphaBarS, Tensor noise)
    {
        double beta = 1 - alphaBarT / alphaBarS;
        double x0Coefficient = Math.Sqrt(alphaBarS) * beta / (1 - alphaBarT);
        double xtCoefficient = Math.Sqrt(alphaBarT / alphaBarS) * (1 - alphaBarS) / (1 - alphaBarT);
        double sigma = Math.Sqrt(Math.Max(0, (1 - alphaBarS) * beta / (1 - alphaBarT)));
        using var scope = NewDisposeScope();
        return x0Hat.Times(x0Coefficient).Plus(xt.Times(xtCoefficient)).Plus(noise.Times(sigma)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The ancestral step with improved DDPM's learned variance (Nichol &amp; Dhariwal 2021), as guided-diffusion samples
    /// with it: the same mean, and per pixel log σ² = f log β + (1 − f) log β̃ with f = (v + 1)/2, between the step's
    /// β = 1 − ᾱ_t/ᾱ_s and the posterior's β̃ = (1−ᾱ_s) β / (1−ᾱ_t). The step to the clean end adds no noise either way.
    /// </summary>
    public static Tensor AncestralLearned(Tensor xt, Tensor x0Hat, double alphaBarT, double alphaBarS, Tensor noise, Tensor varianceValue)
    {
        using var scope = NewDisposeScope();
        using var none = zeros_like(noise);
        var mean = Ancestral(xt, x0Hat, alphaBarT, alphaBarS, none);
        if (alphaBarS >= 1) return mean.MoveToOuterDisposeScope();
        double beta = 1 - alphaBarT / alphaBarS;
        double posterior = (1 - alphaBarS) * beta / (1 - alphaBarT);
        double logMax = Math.Log(beta), logMin = Math.Log(posterior);
        var fraction = varianceValue.detach().Plus(1).DividedBy(2);
        var logVariance = fraction.Times(logMax - logMin).Plus(logMin);
        return mean.Plus(logVariance.Times(0.5).exp().mul(noise)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DDIM: x_s = √ᾱ_s x̂0 + √(1−ᾱ_s−σ²) ε + σ z, σ = η √((1−ᾱ_s)/(1−ᾱ_t)) √(1−ᾱ_t/ᾱ_s).
    /// </summary>
    public static Tensor Ddim(Tensor x0Hat, Tensor eps, double alphaBarT, double alphaBarS, double eta, Tensor noise)
    {
        double sigma = eta * Math.Sqrt((1 - alphaBarS) / (1 - alphaBarT)) * Math.Sqrt(1 - alphaBarT / alphaBarS);
        double epsCoefficient = Math.Sqrt(Math.Max(0, 1 - alphaBarS - sigma * sigma));
        using var scope = NewDisposeScope();
        return x0Hat.Times(Math.Sqrt(alphaBarS)).Plus(eps.Times(epsCoefficient)).Plus(noise.Times(sigma)).MoveToOuterDisposeScope();
    }
}
