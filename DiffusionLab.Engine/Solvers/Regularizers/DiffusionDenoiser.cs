using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers.Regularizers;

/// <summary>
/// Plug-and-play (the idea behind DiffPIR, Zhu et al. 2023): the prox of w·R, with R = −log p
/// the diffusion prior, is a denoiser for Gaussian noise of variance w, so replace it by the
/// prior's own denoiser, Tweedie's x̂0, at the noise level σ = √w.
/// </summary>
/// <remarks>
/// The prior is a VP model: x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε. Dividing by √ᾱ_t gives
/// x0 + σ_t ε with σ_t = √((1−ᾱ_t)/ᾱ_t), so an image v = x0 + σ n looks like x_t / √ᾱ_t at the
/// t whose σ_t is closest to σ (closest in log σ). The denoiser therefore feeds the network
/// x_t = √ᾱ_t·v, not v itself, and returns x̂0 = (x_t − √(1−ᾱ_t) ε(x_t, t)) / √ᾱ_t.
/// Tweedie's x̂0 is the posterior mean E[x0 | v] (the MMSE denoiser), not the MAP the prox
/// defines; for a Gaussian prior the two coincide. Below the schedule's smallest level the
/// denoiser uses t = 0, above its largest t = T−1. x̂0 is not clipped, for image priors either:
/// the prox is the network's own MMSE denoiser (priors are never clipped; clipping is a sampler's
/// setting); at the noise levels HQS and ADMM reach (σ ≲ 0.5) its x̂0 stays close to the image
/// range anyway. Vector priors keep their own range. Each call is one (batched) network evaluation.
/// </remarks>
public sealed class DiffusionDenoiser(IDenoiser prior) : IRegularizer
{
    readonly double[] noiseLevels = prior.Schedule.AlphasCumprod.Select(a => Math.Sqrt((1 - a) / a)).ToArray();

    public IDenoiser Prior { get; } = prior;

    public string Name => "plug-and-play diffusion denoiser";

    public int NetworkEvaluations { get; private set; }

    /// <summary>The timestep whose VE noise level √((1−ᾱ_t)/ᾱ_t) is closest to σ in log scale.</summary>
    public int TimestepFor(double sigma)
    {
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), "the noise level must be positive");
        double target = Math.Log(sigma);
        int best = 0;
        for (int t = 1; t < noiseLevels.Length; t++)
            if (Math.Abs(Math.Log(noiseLevels[t]) - target) < Math.Abs(Math.Log(noiseLevels[best]) - target)) best = t;
        return best;
    }

    /// <summary>The VE noise level √((1−ᾱ_t)/ᾱ_t) of a timestep.</summary>
    public double NoiseLevel(int t) => noiseLevels[t];

    public Tensor Prox(Tensor v, double weight)
    {
        if (!(weight >= 0)) throw new ArgumentOutOfRangeException(nameof(weight), "the prox weight must be non-negative");
        if (weight == 0) return v.clone();
        int t = TimestepFor(Math.Sqrt(weight));
        double alphaBar = Prior.Schedule.AlphaBar(t);
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var xt = v.Times(Math.Sqrt(alphaBar));
        var timesteps = ScalarArithmetic.Full([v.shape[0]], (long)t, int64, v.device);
        var eps = Prior.PredictNoise(xt, timesteps);
        NetworkEvaluations++;
        var alphaBars = ScalarArithmetic.Full([v.shape[0]], alphaBar, float64, v.device);
        return Tweedie.X0Hat(xt, eps, alphaBars).MoveToOuterDisposeScope();
    }

    /// <summary>−log p of a learned prior is not available, so plug-and-play reports no objective.</summary>
    public Tensor? Value(Tensor x) => null;
}
