using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Decoupled annealing posterior sampling (Zhang et al. 2025, Algorithm 1), in variance-exploding
/// coordinates x_t = x0 + σ_t z (the network sees √ᾱ x_t). For annealing levels σ_1 &gt; … &gt; σ_L
/// (Karras' ρ = 7 spacing from 100 to 0.1, each at the training timestep of nearest σ):
/// <list type="number">
/// <item>x̂0 = an ODE estimate of x0 from x_t: a few Euler steps of the probability-flow ODE from σ_t down to 0.01, then Tweedie;</item>
/// <item>Langevin on p(x0 | x_t, y) ∝ N(x0; x̂0, r_t² I) p(y | x0) with r_t = σ_t:
///   x0 ← x0 + η [(x̂0 − x0)/r_t² − ∇ ½‖y − A(x0)‖²/σ_y²] + √(2η) ε, η decaying linearly from η₀ to η₀/100;</item>
/// <item>x_{t−1} ~ N(x0, σ_{t−1}² I) (the last level returns x0 itself).</item>
/// </list>
/// The ODE costs the network calls; the Langevin chain uses only A (through autograd, so A may be
/// nonlinear). For a linear A with Gaussian noise, η is held below the chain's stability limit 1/L,
/// L = 1/r_t² + ‖A‖²/σ_y², so a sharp measurement slows the chain instead of blowing it up.
/// </summary>
public sealed class Daps(int odeSteps, int langevinSteps, double stepSize) : ISolver
{
    public const double SigmaMax = 100, SigmaMin = 0.1, OdeSigmaMin = 0.01, Rho = 7, LastStepRatio = 0.01;

    public string Id => "daps";

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (odeSteps < 1 || langevinSteps < 0) throw new SolverException("DAPS needs at least one ODE step per level (and no negative number of Langevin steps).");
        if (!(stepSize > 0) || double.IsInfinity(stepSize)) throw new SolverException("DAPS's Langevin step size η must be a positive number.");
        var measurement = context.RequireMeasurement("DAPS");
        var y = context.Y ?? throw new SolverException("DAPS needs a measurement y.");
        MeasurementLikelihood.RequireNoise(context.Noise, "DAPS");
        var prior = new CountedPrior(context.Prior);
        var sigmas = SigmaTable(prior);
        var levels = NearestTimesteps(sigmas, KarrasSigmas(SigmaMax, SigmaMin, context.Steps));
        double measurementCurvature = MeasurementCurvature(context);

        Tensor xt;
        using (var scope = NewDisposeScope())
            xt = context.Normal().Times(sigmas[levels[0]]).DetachFromDisposeScope(); // x_T ~ N(0, σ_T² I), owned here
        try
        {
            for (int i = 0; i < levels.Length; i++)
            {
                int t = levels[i];
                bool last = i == levels.Length - 1;
                int next = last ? -1 : levels[i + 1];
                double sigma = sigmas[t];
                Tensor x0, reported;
                using (var scope = NewDisposeScope())
                {
                    // 1. The ODE estimate x̂0(x_t).
                    var x0Hat = OdeEstimate(prior, sigmas, xt, t);

                    // 2. Langevin on x0 | x_t, y around it.
                    double eta = stepSize * (1 + (double)i / levels.Length * (LastStepRatio - 1));
                    eta = Math.Min(eta, 1 / (1 / (sigma * sigma) + measurementCurvature));
                    var x = x0Hat.clone();
                    for (int j = 0; j < langevinSteps; j++)
                    {
                        using var step = NewDisposeScope();
                        var drift = (x0Hat - x).DividedBy(sigma * sigma) - LikelihoodGradient(context, measurement, y, x);
                        var moved = x.Plus(drift.Times(eta)).Plus(context.Normal().Times(Math.Sqrt(2 * eta)));
                        if (!moved.isfinite().all().item<bool>())
                            throw new SolverException($"DAPS's Langevin chain diverged at level {i + 1} (σ = {sigma:0.###}): the step size η = {stepSize:g3} is too large for this measurement. Try a smaller η.");
                        x = moved.MoveToOuterDisposeScope();
                    }

                    // 3. Back up to the next level: x_{t−1} ~ N(x0, σ_{t−1}² I).
                    var noisy = last ? x.clone() : x.Plus(context.Normal().Times(sigmas[next]));
                    x0 = x.DetachFromDisposeScope();
                    reported = (last ? x.clone() : noisy.Times(Math.Sqrt(prior.AlphaBar(next)))).DetachFromDisposeScope();
                    xt.Dispose();
                    xt = noisy.DetachFromDisposeScope();
                }
                try
                {
                    yield return new SolverStep(i, levels.Length, Math.Max(next, 0), reported, x0, DataResidual.PerSample(context, x0), prior.Evaluations);
                }
                finally
                {
                    x0.Dispose();
                    reported.Dispose();
                }
            }
        }
        finally
        {
            xt.Dispose();
        }
    }

    /// <summary>
    /// Euler on the probability-flow ODE dx/dσ = ε(x, σ) from σ_t down to 0.01 on Karras' grid (one
    /// network call per point; the step from x to the next σ' is x̂0 + σ' ε, which is DDIM with η = 0),
    /// ending with the Tweedie estimate at the smallest level.
    /// </summary>
    Tensor OdeEstimate(CountedPrior prior, double[] sigmas, Tensor xt, int t)
    {
        var grid = NearestTimesteps(sigmas, KarrasSigmas(sigmas[t], Math.Min(OdeSigmaMin, sigmas[t]), odeSteps), t);
        var x = xt;
        Tensor x0Hat = xt;
        for (int k = 0; k < grid.Length; k++)
        {
            int s = grid[k];
            var (eps, estimate) = prior.Denoise(x.Times(Math.Sqrt(prior.AlphaBar(s))), s);
            x0Hat = estimate;
            if (k + 1 < grid.Length) x = estimate.Plus(eps.Times(sigmas[grid[k + 1]]));
        }
        return x0Hat;
    }

    /// <summary>∇_x ½‖y − A(x)‖²/σ_y² per sample (autograd through A; no network).</summary>
    static Tensor LikelihoodGradient(SolverContext context, Operators.IMeasurement measurement, Tensor y, Tensor x)
    {
        using var scope = NewDisposeScope();
        using var withGradients = enable_grad();
        var leaf = x.detach().requires_grad_(true);
        var loss = MeasurementLikelihood.NegativeLog(context.Noise, y, measurement.Forward(leaf)).sum();
        return TorchSharp.torch.autograd.grad([loss], [leaf])[0].detach().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// ‖A‖²/σ_y², the measurement's share of the Langevin chain's curvature, for a linear A with Gaussian noise
    /// (power iteration on AᵀA from a fixed start: a property of A, so it draws nothing from the run's noise); 0 otherwise.
    /// </summary>
    static double MeasurementCurvature(SolverContext context)
    {
        var measurement = context.Measurement!;
        if (!measurement.IsLinear || context.Noise.Kind != Operators.NoiseKind.Gaussian) return 0;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var generator = new Generator(0);
        var v = randn([1, .. context.Prior.SampleShape], generator: generator).to(context.Prior.Device);
        double norm = 0;
        for (int k = 0; k < 30; k++)
        {
            v = v.DividedBy(v.norm().item<float>() + 1e-30);
            var w = measurement.Adjoint(measurement.Forward(v));
            norm = w.norm().item<float>();
            if (!(norm > 0)) return 0;
            v = w;
        }
        return 1.05 * norm / (context.Noise.SigmaY * context.Noise.SigmaY); // a little above the estimate, which approaches ‖A‖² from below
    }

    /// <summary>σ(t) = √((1 − ᾱ_t)/ᾱ_t) for every training timestep.</summary>
    static double[] SigmaTable(CountedPrior prior) =>
        Enumerable.Range(0, prior.Schedule.TrainingSteps).Select(t => Math.Sqrt((1 - prior.AlphaBar(t)) / prior.AlphaBar(t))).ToArray();

    /// <summary>Karras et al.'s grid: (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ, n points from σ_max to σ_min.</summary>
    static double[] KarrasSigmas(double sigmaMax, double sigmaMin, int count)
    {
        if (count == 1) return [sigmaMax];
        double a = Math.Pow(sigmaMax, 1 / Rho), b = Math.Pow(sigmaMin, 1 / Rho);
        return Enumerable.Range(0, count).Select(i => Math.Pow(a + (double)i / (count - 1) * (b - a), Rho)).ToArray();
    }

    /// <summary>For each σ the training timestep whose σ(t) is nearest in log scale, at most <paramref name="highest"/>, without repeats, descending.</summary>
    static int[] NearestTimesteps(double[] sigmas, double[] targets, int highest = int.MaxValue)
    {
        int top = Math.Min(highest, sigmas.Length - 1);
        return targets.Select(target =>
        {
            int best = 0;
            for (int t = 1; t <= top; t++)
                if (Math.Abs(Math.Log(sigmas[t] / target)) < Math.Abs(Math.Log(sigmas[best] / target))) best = t;
            return best;
        }).Distinct().OrderDescending().ToArray();
    }
}
