using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// DiffPIR (Zhu et al. 2023, Algorithm 1): half-quadratic splitting inside the reverse diffusion.
/// With σ̄_t = √((1−ᾱ_t)/ᾱ_t), the noise level of x_t seen as a noisy image, and ρ_t = λ σ_y²/σ̄_t²,
/// each step (i) takes the prior's x0^(t) = Tweedie(x_t), (ii) solves the data subproblem
/// x̂0 = argmin_x ‖y − A x‖² + ρ_t ‖x − x0^(t)‖², in closed form in the operator's SVD basis when it
/// has one, else by conjugate gradients on (AᵀA + ρ_t I) x = Aᵀy + ρ_t x0^(t); (iii) re-noises to the
/// next kept timestep s: ε̂ = (x_t − √ᾱ_t x̂0)/√(1−ᾱ_t), x_s = √ᾱ_s x̂0 + √(1−ᾱ_s) (√(1−ζ) ε̂ + √ζ z).
/// ζ = 0 is deterministic (DDIM-like), ζ = 1 draws all of the next step's noise fresh. The timesteps
/// are the official code's "quad" spacing, dense near t = 0. One network evaluation per step.
/// </summary>
public sealed class DiffPir(double lambda, double zeta, bool clipX0Hat, int cgIterations = DiffPir.DefaultCgIterations) : ISolver
{
    public const int DefaultCgIterations = 30;

    public string Id => "diffpir";
    public double Lambda => lambda;
    public double Zeta => zeta;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(lambda > 0) || double.IsInfinity(lambda)) throw new SolverException("DiffPIR's λ must be a positive number.");
        if (!(zeta >= 0 && zeta <= 1)) throw new SolverException("DiffPIR's ζ must be between 0 and 1.");
        if (cgIterations < 1) throw new SolverException("DiffPIR needs at least one conjugate-gradient step.");
        var measurement = context.RequireLinear("DiffPIR");
        var y = context.Y ?? throw new SolverException("DiffPIR needs a measurement y.");
        // As the official code does, a noiseless y is treated as barely noisy, so ρ_t stays positive.
        double sigmaY = Math.Max(context.Noise.SigmaY, MapProblem.MinimumSigmaY);
        var prior = new CountedPrior(context.Prior);
        var timesteps = QuadraticTimesteps(prior.Schedule.TrainingSteps, context.Steps);
        using var dataStep = new DataStep(measurement, y, sigmaY, cgIterations);

        using var iterate = new CurrentIterate(context.Normal());
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            iterate.Advance(() =>
            {
                double alphaBarT = prior.AlphaBar(t), alphaBarS = prior.AlphaBar(s);
                var (_, priorX0) = prior.Denoise(iterate.X, t);
                if (clipX0Hat) priorX0 = priorX0.Clamped(-1, 1);
                double rho = lambda * sigmaY * sigmaY / ((1 - alphaBarT) / alphaBarT);
                var x0Hat = dataStep.Solve(rho, priorX0);
                var epsHat = (iterate.X - x0Hat.Times(Math.Sqrt(alphaBarT))).DividedBy(Math.Sqrt(1 - alphaBarT));
                var z = context.Normal();
                var noise = epsHat.Times(Math.Sqrt(1 - zeta)).Plus(z.Times(Math.Sqrt(zeta)));
                return (x0Hat.Times(Math.Sqrt(alphaBarS)).Plus(noise.Times(Math.Sqrt(1 - alphaBarS))), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations);
        }
    }

    /// <summary>
    /// The official code's "quad" spacing: S points √(j/(S−1))·T, j = 0 … S−1, visited as
    /// t = T − 1 − ⌊that⌋, so from T − 1 down to 0 with the steps shrinking toward the clean end.
    /// Repeats (possible when S nears T) are dropped.
    /// </summary>
    public static int[] QuadraticTimesteps(int trainingSteps, int steps)
    {
        if (steps < 1) throw new SolverException("DiffPIR needs at least one step.");
        if (steps == 1) return [trainingSteps - 1];
        var visited = new List<int>();
        for (int j = 0; j < steps; j++)
        {
            int offset = Math.Min(trainingSteps - 1, (int)Math.Floor(Math.Sqrt(j / (steps - 1.0)) * trainingSteps));
            int t = trainingSteps - 1 - offset;
            if (visited.Count == 0 || t < visited[^1]) visited.Add(t);
        }
        return [.. visited];
    }

    /// <summary>
    /// argmin_x ‖y − A x‖² + ρ ‖x − anchor‖², written with the noise level as
    /// (AᵀA/σ_y² + μ I) x = Aᵀy/σ_y² + μ anchor, μ = ρ/σ_y²: coordinate by coordinate in the SVD
    /// basis when A has one, by conjugate gradients otherwise.
    /// </summary>
    sealed class DataStep : IDisposable
    {
        readonly IMeasurement a;
        readonly ISvdMeasurement? svd;
        readonly double sigmaY;
        readonly int cgIterations;
        readonly Tensor adjointOfYOverVariance; // Aᵀy/σ_y²
        readonly Tensor? singular;              // Σ, [1, ..SpectralShape]
        readonly Tensor? spectralY;             // Σ Uᵀy/σ_y², [B, ..SpectralShape]

        public DataStep(IMeasurement a, Tensor y, double sigmaY, int cgIterations)
        {
            this.a = a;
            this.sigmaY = sigmaY;
            this.cgIterations = cgIterations;
            svd = a as ISvdMeasurement;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            adjointOfYOverVariance = a.Adjoint(y).DividedBy(sigmaY * sigmaY).DetachFromDisposeScope();
            if (svd is not null)
            {
                singular = svd.SingularValues.to(y.dtype).to(y.device).unsqueeze(0).DetachFromDisposeScope();
                spectralY = (svd.MeasurementToSpectral(y) * singular).DividedBy(sigmaY * sigmaY).DetachFromDisposeScope();
            }
        }

        public Tensor Solve(double rho, Tensor anchor)
        {
            double mu = rho / (sigmaY * sigmaY);
            if (svd is not null)
            {
                var numerator = spectralY!.Plus(svd.ToSpectral(anchor).Times(mu));
                var denominator = singular!.Squared().DividedBy(sigmaY * sigmaY).Plus(mu);
                return svd.FromSpectral(numerator / denominator);
            }
            var rhs = adjointOfYOverVariance.Plus(anchor.Times(mu));
            return ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, anchor, cgIterations).Solution;
        }

        public void Dispose()
        {
            adjointOfYOverVariance.Dispose();
            singular?.Dispose();
            spectralY?.Dispose();
        }
    }
}
