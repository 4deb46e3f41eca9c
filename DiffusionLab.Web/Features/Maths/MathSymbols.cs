using System.Collections.Frozen;

namespace DiffusionLab.Web.Features.Maths;

/// <summary>One symbol of the lab's equations, as a student meets it: its TeX and what it means, in words.</summary>
/// <param name="Name">The symbol in plain text, for screen readers and the symbol list.</param>
/// <param name="Key">How a formula names it: <c>\sym{key}{tex}</c> in the TeX makes that occurrence explain itself on hover, focus or tap.</param>
public sealed record MathSymbol(string Key, string Tex, string Name, string Meaning);

/// <summary>
/// Every symbol the equations on screen use (the maths panel, the lessons), with the meaning a student
/// needs. The notation is docs/maths.md's, so a symbol means here what it means there and in the code.
/// </summary>
public static class MathSymbols
{
    public static IReadOnlyList<MathSymbol> All { get; } =
    [
        new("xt", "x_t", "x_t", "The current state: the image at timestep t, part signal and part noise. For HQS and ADMM, the data-consistent half x."),
        new("xs", "x_s", "x_s", "The next state, at the next timestep s the sampler visits."),
        new("x0", "x_0", "x₀", "The clean image: the ground truth, which the solver never sees."),
        new("x0hat", @"\hat x_0", "x̂0", "The network's guess of the clean image from x_t (Tweedie's formula: the mean of x_0 given x_t). The lab shows it beside x_t."),
        new("t", "t", "t", "The timestep: 999 is pure noise, 0 is clean. A run of S steps visits S of them, evenly spaced."),
        new("s", "s", "s", "The next timestep the sampler visits after t; −1 stands for the clean end."),
        new("y", "y", "y", "The measurement: the image after the corruption A, with its noise. All a solver is given."),
        new("A", @"\mathcal A", "A", "The corruption: what turns an image into a measurement (a blur, a mask, a downsampling, a Fourier subsampling, …)."),
        new("AT", @"\mathcal A^\top", "Aᵀ", "The adjoint (transpose) of A: carries a mismatch in y back into image space. Only linear corruptions have one."),
        new("Adag", @"\mathcal A^\dagger", "A†", "The back-projection: a picture of y in image space (the blurred image itself, the masked image with grey holes, a bicubic upsampling, …)."),
        new("sigmay", @"\sigma_y", "σ_y", "The measurement noise's standard deviation, on the image's [−1, 1] scale (0.05 is 2.5 % of black to white)."),
        new("zeta", @"\zeta", "ζ", "DPS's guidance step: how hard each step is pushed toward agreeing with y. Too small ignores y; too large overshoots."),
        new("abar", @"\bar\alpha_t", "ᾱ_t", "How much of the signal is left at timestep t (ᾱ_s: at s): x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε. 1 when clean, about 0 at pure noise."),
        new("eps", @"\varepsilon_\theta", "ε_θ", "The trained network: its guess of the noise in x_t, given t. Every prior (the UNet, the exact mixtures) provides this one function."),
        new("noise", @"\varepsilon", "ε", "Gaussian noise, N(0, I): independent for every pixel."),
        new("z", "z", "z", "Fresh Gaussian noise N(0, I), drawn anew at every step from the run's seed."),
        new("beta", @"\beta_{t\to s}", "β_t→s", "How much noise the forward process adds between s and t: 1 − ᾱ_t/ᾱ_s."),
        new("sigmats", @"\sigma_{t\to s}", "σ_t→s", "The standard deviation of the fresh noise DDPM adds in one step from t to s."),
        new("eta", @"\eta", "η", "DDIM's randomness: 0 makes every step deterministic, 1 adds as much fresh noise as DDPM."),
        new("score", @"s_\theta", "s_θ", "The score ∇log p_t(x): the direction toward more likely images at noise level t, from the network: −ε_θ/√(1 − ᾱ_t)."),
        new("betau", @"\beta", "β", "The noise rate of the continuous-time process at t (T·β_t, with T = 1000 training steps)."),
        new("du", @"\Delta u", "Δu", "The step in continuous time u = (t + 1)/T, from the current timestep to the next."),
        new("v", "v", "v", "The probability-flow velocity: where a particle moves, deterministically, at this t."),
        new("xg", "x^g", "x^g", "SDEdit's guide image: the back-projection of y, a rough picture of the measurement."),
        new("t0", "t_0", "t0", "SDEdit's strength (0 to 1): how far the guide is pushed into noise before it is denoised."),
        new("xtil", @"\tilde x", "x̃", "ScoreALD's state in variance-exploding coordinates, x_t/√ᾱ_t, whose noise level is σ_i."),
        new("sigmai", @"\sigma_i", "σ_i", "The noise level of rung i of ScoreALD's ladder, from about 157 down to 0.01 (σ_L is the last)."),
        new("gammai", @"\gamma_i", "γ_i", "How much the likelihood is softened at level i: its noise variance becomes σ_y² + γ_i². The code takes γ_i = σ_i."),
        new("alphai", @"\alpha_i", "α_i", "The Langevin step at level i: ε σ_i²/σ_L², large at high noise, small near the clean end."),
        new("epsstep", @"\epsilon", "ϵ", "ScoreALD's step scale: the Langevin step at the smallest noise level."),
        new("lambda", @"\lambda", "λ", "The regulariser's weight: how much R counts against fitting y (for CSGM: the weight of ‖z‖²)."),
        new("R", "R", "R", "The regulariser: what the answer is assumed to look like (Tikhonov: near its mean colour; total variation: flat patches with sharp edges; plug-and-play: a diffusion denoiser)."),
        new("F", "F", "F", "The objective HQS and ADMM minimise: misfit to y plus λ times the regulariser. Its minimiser is one image."),
        new("prox", @"\operatorname{prox}", "prox", "The regulariser's proximal step: the image closest to its input that R likes, a clean-up. Plug-and-play replaces it by the diffusion model's denoiser."),
        new("mu", @"\mu_k", "μ_k", "HQS's penalty at iteration k: it grows by a fixed factor each iteration, tying the two halves together."),
        new("rho", @"\rho", "ρ", "ADMM's fixed penalty: how strongly the data step and the prior step are pulled together."),
        new("u", "u_k", "u_k", "ADMM's running record of the disagreement between x and z, which it corrects for."),
        new("xk", "x_k", "x_k", "The data-consistent half at iteration k: the result of the linear solve with A and Aᵀ (shown as x_t)."),
        new("zk", "z_k", "z_k", "The regularised half at iteration k: the answer the lab shows (as x̂0)."),
        new("k", "k", "k", "The iteration count of an optimiser (HQS, ADMM): no noise level, no timestep."),
        new("G", "G", "G", "The trained generator: the VAE's decoder or the GAN's generator. Every answer is an image G can make."),
        new("zlat", "z", "z (code)", "The generator's code: 64 numbers that G turns into an image."),
        new("pt", "p_t", "p_t", "The density of images noised to timestep t (p_0: of clean images)."),
        new("sigmabar", @"\bar\sigma_t", "σ̄_t", "The noise level of x_t seen as a noisy image: x_t/√ᾱ_t = x_0 + σ̄_t ε, so σ̄_t = √((1 − ᾱ_t)/ᾱ_t)."),
        new("rhot", @"\rho_t", "ρ_t", "DiffPIR's weight on staying near the network's guess: λσ_y²/σ̄_t², small while x_t is noisy, so y wins early and the prior late."),
        new("rt", "r_t", "r_t", "ΠGDM's guess of how far the clean image may be from x̂0 at timestep t: r_t² = 1 − ᾱ_t."),
        new("V", @"V^\top", "Vᵀ", "The corruption's own coordinates (its SVD A = UΣVᵀ): in them A only scales each coordinate by a singular value, or drops it."),
        new("si", "s_i", "s_i", "The i-th singular value of A: how much of coordinate i survives the corruption (0: nothing, it is all prior)."),
        new("wn", "w^n", "wⁿ", "TDS's weight of particle n: how much better it explains y than the guidance expected. Heavy particles are copied, light ones dropped."),
        new("ess", @"\mathrm{ESS}", "ESS", "Effective sample size: how many equally weighted particles the weighted cloud is worth (N when all weights are equal, 1 when one particle has them all)."),
        new("etai", @"\eta_i", "η_i", "DAPS's Langevin step size at level i: it falls from η_0 to η_0/100 over the run."),
        new("etab", @"\eta_b", "η_b", "DDRM's weight on y in the coordinates where y is the less noisy source (1: take y as it is)."),
    ];

    static readonly FrozenDictionary<string, MathSymbol> ByKey = All.ToFrozenDictionary(s => s.Key, StringComparer.Ordinal);

    public static MathSymbol? Find(string key) => ByKey.GetValueOrDefault(key);
}
