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
