using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Twisted diffusion sampler (Wu et al. 2023, Algorithm 1), a sequential Monte Carlo sampler that is
/// exact as the number of particles grows. Each sample carries N weighted particles, respaced:
/// <list type="number">
/// <item>twist p̃_t(y | x_t) = N(y; A(x̂0(x_t)), (σ_y² + r_t²) I), r_t² = 1 − ᾱ_t, and its gradient g = ∇_{x_t} log p̃_t through the network;</item>
/// <item>weights w ← w · p(x_t | x_{t+1}) p̃_t(y | x_t) / [q(x_t | x_{t+1}, y) p̃_{t+1}(y | x_{t+1})] (at the start, w = p̃_T(y | x_T));</item>
/// <item>systematic resampling of a sample's particles when its ESS = 1/Σ w̃² falls below κ N;</item>
/// <item>the twisted proposal q = N(μ(x_t) + σ² g, σ²): the ancestral kernel N(μ, σ²) tilted by the twist, exp(g · x), to first order.</item>
/// </list>
/// The paper's twist is the likelihood at x̂0, p(y | x̂0(x_t)). Any positive twist that ends at the likelihood keeps
/// the sampler exact in the limit; adding x̂0's own uncertainty r_t² (ΠGDM's choice for data of unit variance) keeps
/// the early twists gentle, where the plain one overshoots whenever σ_y is small against the prior's spread. The
/// last step lands on x̂0 at t = 0 and swaps the last twist for the likelihood itself, and each sample's answer is
/// one particle drawn by weight. The reported x_t and x̂0 are, before that, the particle
/// with the largest weight. Works for any differentiable A: only its autograd is used.
/// </summary>
public sealed class Tds(int particles, double resampleThreshold, bool clipX0Hat = false) : ISolver
{
    public const int MaxParticles = 2000;

    public string Id => "tds";
    public int Particles => particles;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (particles < 1 || particles > MaxParticles) throw new SolverException($"TDS needs between 1 and {MaxParticles} particles.");
        if (!(resampleThreshold >= 0 && resampleThreshold <= 1)) throw new SolverException("TDS's resampling threshold κ must be between 0 and 1.");
        var measurement = context.RequireMeasurement("TDS");
        var y = context.Y ?? throw new SolverException("TDS needs a measurement y.");
        MeasurementLikelihood.RequireNoise(context.Noise, "TDS");
        var prior = new CountedPrior(context.Prior);
        // As DPS does for images: the twist and the step use x̂0 clamped to the image range (an image prior's raw x̂0
        // is wild at high noise, and a sharp likelihood at it sends the twist's gradient off). Points have no range.
        bool clip = clipX0Hat && context.Prior.SampleShape.Length == 3;
        Tensor Estimate(Tensor x, Tensor eps, int t) => clip ? prior.X0Hat(x, eps, t).Clamped(-1, 1) : prior.X0Hat(x, eps, t);
        var timesteps = Timesteps.Respace(prior.Schedule.TrainingSteps, context.Steps);
        long batch = context.BatchSize, n = particles;
        long[] sampleShape = context.Prior.SampleShape, cloudShape = [batch, n, .. sampleShape], flatShape = [batch * n, .. sampleShape];
        var device = context.Prior.Device;

        // Sample b's particles draw from sample b's own stream, so a batch gives each sample what it would get alone.
        Tensor ParticleNoise() => context.Random.Normal(cloudShape, device).reshape(flatShape);
        Tensor Uniform() => ParticleWeights.UniformFromNormal(context.Random.Normal([batch, 1], device));

        using var yPerParticle = y.repeat_interleave(n, 0).DetachFromDisposeScope(); // lives across steps, not in whatever scope the consumer has open
        Tensor start;
        using (var scope = NewDisposeScope())
            start = ParticleNoise().DetachFromDisposeScope(); // x_T ~ N(0, I) for every particle; the swarm owns it
        using var swarm = new Swarm(start);
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            bool last = s < 0;
            double[] ess = [];
            // p̃_t's share of the likelihood's precision: σ_y² / (σ_y² + r_t²) (for Poisson noise, σ_y is its mid-grey std).
            double sharpness = context.Noise.SigmaY * context.Noise.SigmaY / (context.Noise.SigmaY * context.Noise.SigmaY + 1 - prior.AlphaBar(t));
            using (var scope = NewDisposeScope())
            {
                // 1. The twist at x_t and its gradient (a forward and a backward pass).
                var guided = prior.EpsilonWithGradient(swarm.X, t, (x, eps) =>
                    MeasurementLikelihood.NegativeLog(context.Noise, yPerParticle, measurement.Forward(Estimate(x, eps, t))).Times(sharpness));
                var logTwist = guided.Loss.to(float64).neg().reshape(batch, n);
                var twistGradient = guided.Gradient.neg();
                if (!twistGradient.isfinite().all().item<bool>())
                    throw new SolverException($"TDS's twist gradient became infinite or NaN at step {i + 1} (t = {t}): the likelihood is too sharp for the prior's x̂0. Try a larger σ_y.");
                var x0Hat = Estimate(swarm.X, guided.Epsilon, t);

                // 2. The weight update: the incremental weight of the move that made x_t, divided by the old twist, times the new one.
                var logWeights = i == 0 ? logTwist : swarm.LogWeights.Plus(swarm.PendingLogRatio).Plus(logTwist) - swarm.LogTwist;
                // At the end the twist gives way to the likelihood itself, log p(y | x̂0) = log p̃ / sharpness (up to a constant every particle shares).
                if (last) logWeights = logWeights.Plus(logTwist.Times(1 / sharpness - 1));
                var weights = ParticleWeights.Normalised(logWeights);
                var effective = ParticleWeights.EffectiveSampleSize(weights);
                ess = effective.data<double>().ToArray();
                var best = weights.argmax(1, keepdim: true); // [B, 1]

                // 3. Systematic resampling of the samples whose ESS fell below κ N (a uniform is drawn every step, so streams stay aligned).
                var identity = ParticleWeights.Range(0, n, 1, int64, device).unsqueeze(0).expand(batch, n);
                var degenerate = effective.LessThan(resampleThreshold * n).unsqueeze(1);
                var ancestors = where(degenerate, ParticleWeights.Systematic(weights, Uniform()), identity);
                var x = ParticleWeights.Gather(swarm.X, ancestors, n);
                x0Hat = ParticleWeights.Gather(x0Hat, ancestors, n);
                twistGradient = ParticleWeights.Gather(twistGradient, ancestors, n);
                logTwist = logTwist.gather(1, ancestors);
                logWeights = where(degenerate, zeros_like(logWeights), logWeights.gather(1, ancestors));
                weights = ParticleWeights.Normalised(logWeights);
                var shown = ancestors.eq(best).to(int64).argmax(1, keepdim: true); // where the heaviest particle (or its first copy) now sits

                Tensor next, pendingLogRatio;
                if (!last)
                {
                    // 4. The twisted proposal and the log ratio p/q the next weight update needs.
                    double alphaBarT = prior.AlphaBar(t), alphaBarS = prior.AlphaBar(s), beta = 1 - alphaBarT / alphaBarS;
                    double sigma = Math.Sqrt((1 - alphaBarS) * beta / (1 - alphaBarT));
                    var mean = ReverseUpdate.Ancestral(x, x0Hat, alphaBarT, alphaBarS, zeros_like(x));
                    // The variance, not β, scales the tilt: near t = 0 the ancestral variance is far below β, and a β-sized shift would dwarf the kernel.
                    var shift = twistGradient.Times(sigma * sigma);
                    var step = ParticleNoise().Times(sigma);
                    next = mean.Plus(shift).Plus(step);
                    // log N(x_s; μ, σ²) − log N(x_s; μ + shift, σ²) = (‖x_s − μ − shift‖² − ‖x_s − μ‖²) / 2σ², with x_s − μ − shift = σ z.
                    pendingLogRatio = (step.Squared() - step.Plus(shift).Squared()).flatten(1).sum(1).to(float64).DividedBy(2 * sigma * sigma).reshape(batch, n);
                }
                else
                {
                    next = x0Hat;
                    pendingLogRatio = zeros_like(logWeights);
                }

                var shownX = ParticleWeights.Gather(next, shown, n);
                var shownX0Hat = ParticleWeights.Gather(x0Hat, shown, n);
                var positions = next;
                if (last)
                {
                    // The answer: one particle per sample drawn by weight; the cloud shown with it is the whole system resampled.
                    var answer = ParticleWeights.Draw(weights, Uniform()).unsqueeze(1);
                    shownX = shownX0Hat = ParticleWeights.Gather(next, answer, n);
                    positions = ParticleWeights.Gather(next, ParticleWeights.Systematic(weights, Uniform()), n);
                    weights = ones_like(weights).DividedBy(n);
                }
                swarm.Keep(next, logWeights, logTwist, pendingLogRatio, shownX, shownX0Hat, positions.reshape(cloudShape), weights);
            }
            var residual = DataResidual.PerSample(context, swarm.ShownX0Hat!);
            yield return new SolverStep(i, timesteps.Length, Math.Max(s, 0), swarm.ShownX!, swarm.ShownX0Hat!, residual, prior.Evaluations,
                Particles: new ParticleCloud(swarm.Positions!, swarm.Weights!, ess));
        }
    }

    /// <summary>The particle system between steps: every tensor detached from the step's scope and freed when replaced.</summary>
    sealed class Swarm(Tensor x) : IDisposable
    {
        public Tensor X { get; private set; } = x;
        public Tensor LogWeights { get; private set; } = empty(0);
        public Tensor LogTwist { get; private set; } = empty(0);
        public Tensor PendingLogRatio { get; private set; } = empty(0);
        public Tensor? ShownX { get; private set; }
        public Tensor? ShownX0Hat { get; private set; }
        public Tensor? Positions { get; private set; }
        public Tensor? Weights { get; private set; }

        public void Keep(Tensor x, Tensor logWeights, Tensor logTwist, Tensor pendingLogRatio, Tensor shownX, Tensor shownX0Hat, Tensor positions, Tensor weights)
        {
            Tensor[] kept = [.. new[] { x, logWeights, logTwist, pendingLogRatio, shownX, shownX0Hat, positions, weights }.Select(k => k.detach().DetachFromDisposeScope())];
            Dispose();
            (X, LogWeights, LogTwist, PendingLogRatio, ShownX, ShownX0Hat, Positions, Weights) = (kept[0], kept[1], kept[2], kept[3], kept[4], kept[5], kept[6], kept[7]);
        }

        public void Dispose()
        {
            foreach (var tensor in new[] { X, LogWeights, LogTwist, PendingLogRatio, ShownX, ShownX0Hat, Positions, Weights })
                tensor?.Dispose();
        }
    }
}
