using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Denoising diffusion restoration models (Kawar et al. 2022, eqs. 7–8), respaced, in the
/// operator's SVD basis A = U Σ Vᵀ and the variance-exploding scale x̄ = Vᵀ x_t / √ᾱ_t, σ_t = √((1−ᾱ_t)/ᾱ_t).
/// With ȳ = Σ⁺ Uᵀ y, each spectral coordinate i of singular value s_i sees y with noise σ_y / s_i:
/// start x̄_T ~ N(ȳ, σ_T² − σ_y²/s_i²) where s_i σ_T &gt; σ_y, N(0, σ_T²) elsewhere; then, with
/// x̄θ = Vᵀ x̂0(x_t), ε̄ = Vᵀ ε(x_t) and fresh z:
/// <list type="bullet">
/// <item>s_i = 0 (unseen): x̄_s = x̄θ + √(1−η²) σ_s ε̄ + η σ_s z;</item>
/// <item>s_i σ_s &lt; σ_y (less noisy than y): x̄_s = x̄θ + √(1−η²) σ_s (ȳ − x̄θ)/(σ_y/s_i) + η σ_s z;</item>
/// <item>s_i σ_s ≥ σ_y (noisier than y): x̄_s = (1−η_b) x̄θ + η_b ȳ + √(σ_s² − η_b² σ_y²/s_i²) z;</item>
/// </list>
/// and x_s = √ᾱ_s V x̄_s. One network evaluation per step, no gradients. Fresh noise is drawn in
/// pixel space and mapped with Vᵀ (which keeps it standard normal), so every sample draws from its own stream.
/// </summary>
public sealed class Ddrm(double eta, double etaB, bool clipX0Hat) : ISolver
{
    public string Id => "ddrm";
    public double Eta => eta;
    public double EtaB => etaB;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(eta >= 0 && eta <= 1)) throw new SolverException("DDRM's η must be between 0 and 1.");
        if (!(etaB >= 0 && etaB <= 1)) throw new SolverException("DDRM's η_b must be between 0 and 1.");
        var measurement = context.RequireLinear("DDRM");
        if (measurement is not ISvdMeasurement svd)
            throw new SolverException($"DDRM needs a corruption with a known SVD: denoising, box or random inpainting, super-resolution, colorization " +
                $"or Fourier subsampling (or a matrix). {measurement.Id} has none here; try DiffPIR or ΠGDM, which only need A and Aᵀ.");
        var y = context.Y ?? throw new SolverException("DDRM needs a measurement y.");
        double sigmaY = context.Noise.SigmaY;
        var prior = new CountedPrior(context.Prior);
        var timesteps = Timesteps.Respace(prior.Schedule.TrainingSteps, context.Steps);

        using var spectrum = new Spectrum(svd, y, sigmaY);
        Tensor start;
        using (var scope = NewDisposeScope())
        {
            double sigmaT = VeSigma(prior.AlphaBar(timesteps[0]));
            var z = svd.ToSpectral(context.Normal());
            // Where y is less noisy than x_T, x̄_T is y's value with the missing noise added; elsewhere plain noise.
            var informative = spectrum.Seen.logical_and(spectrum.Singular.Times(-sigmaT).LessThan(-sigmaY)); // s_i σ_T > σ_y
            var remaining = spectrum.NoiseOfY.Squared().SubtractedFrom(sigmaT * sigmaT).AtLeast(0).sqrt();
            var startBar = where(informative, spectrum.YBar.Plus(remaining * z), z.Times(sigmaT));
            start = svd.FromSpectral(startBar).Times(Math.Sqrt(prior.AlphaBar(timesteps[0]))).MoveToOuterDisposeScope();
        }

        using var iterate = new CurrentIterate(start);
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            bool last = s < 0;
            iterate.Advance(() =>
            {
                var (eps, x0Hat) = prior.Denoise(iterate.X, t);
                if (clipX0Hat)
                {
                    x0Hat = x0Hat.Clamped(-1, 1);
                    eps = Tweedie.EpsFromX0(iterate.X, x0Hat, ScalarArithmetic.Full([x0Hat.shape[0]], prior.AlphaBar(t), float32));
                }
                double alphaBarS = prior.AlphaBar(s), sigmaS = VeSigma(alphaBarS);
                var x0Bar = svd.ToSpectral(x0Hat);
                var z = svd.ToSpectral(context.Normal());
                double kept = Math.Sqrt(1 - eta * eta) * sigmaS, fresh = eta * sigmaS;

                var unseen = x0Bar.Plus(svd.ToSpectral(eps).Times(kept)).Plus(z.Times(fresh));
                var lessNoisy = x0Bar.Plus(((spectrum.YBar - x0Bar) / spectrum.SafeNoiseOfY).Times(kept)).Plus(z.Times(fresh));
                var noisierSpread = spectrum.NoiseOfY.Squared().Times(-etaB * etaB).Plus(sigmaS * sigmaS).AtLeast(0).sqrt();
                var noisier = x0Bar.Times(1 - etaB).Plus(spectrum.YBar.Times(etaB)).Plus(noisierSpread * z);

                var belowY = spectrum.Singular.Times(sigmaS).LessThan(sigmaY);
                var nextBar = where(spectrum.Seen.logical_not(), unseen, where(belowY, lessNoisy, noisier));
                var next = svd.FromSpectral(nextBar).Times(Math.Sqrt(alphaBarS));
                // The last step lands on the clean end (ᾱ = 1): its x is the answer, and is shown as such.
                return (next, last ? next : x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }

    /// <summary>σ of the variance-exploding view x_t/√ᾱ: √((1−ᾱ)/ᾱ), 0 at the clean end.</summary>
    static double VeSigma(double alphaBar) => Math.Sqrt((1 - alphaBar) / alphaBar);

    /// <summary>What DDRM keeps of y in spectral coordinates: Σ, where it is positive, ȳ = Σ⁺Uᵀy and each coordinate's noise σ_y/s_i.</summary>
    sealed class Spectrum : IDisposable
    {
        public Spectrum(ISvdMeasurement svd, Tensor y, double sigmaY)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            Singular = svd.SingularValues.to(y.dtype).to(y.device).unsqueeze(0).DetachFromDisposeScope();
            Seen = Singular.negative().LessThan(0).DetachFromDisposeScope(); // s_i > 0
            var safe = where(Seen, Singular, ones_like(Singular));
            YBar = (svd.MeasurementToSpectral(y) / safe).FilledWhere(Seen.logical_not(), 0).DetachFromDisposeScope();
            NoiseOfY = ScalarArithmetic.Full([1], sigmaY, y.dtype, y.device).div(safe).FilledWhere(Seen.logical_not(), 0).DetachFromDisposeScope();
            // Only read where y is less noisy than x, i.e. where σ_y/s_i > σ_s ≥ 0, so never 0 there.
            SafeNoiseOfY = NoiseOfY.AtLeast(1e-30).DetachFromDisposeScope();
        }

        public Tensor Singular { get; }
        public Tensor Seen { get; }
        public Tensor YBar { get; }
        public Tensor NoiseOfY { get; }
        public Tensor SafeNoiseOfY { get; }

        public void Dispose()
        {
            Singular.Dispose();
            Seen.Dispose();
            YBar.Dispose();
            NoiseOfY.Dispose();
            SafeNoiseOfY.Dispose();
        }
    }
}
