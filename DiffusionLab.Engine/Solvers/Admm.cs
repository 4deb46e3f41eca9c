using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers.Regularizers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// ADMM in scaled form with a fixed penalty ρ (Boyd et al. 2011, §3.1.1; MATH.md §6):
/// x_{k+1} = (AᵀA/sigmaY² + ρI)⁻¹ (Aᵀy/sigmaY² + ρ(z_k − u_k)),
/// z_{k+1} = prox_{(λ/ρ)R}(x_{k+1} + u_k), u_{k+1} = u_k + x_{k+1} − z_{k+1}.
/// Each step reports Xt = x (the data-consistent half) and X0Hat = z (the regularised half, the
/// answer shown); Residual and Objective are those of z. For a convex R it converges to the
/// minimiser for any ρ &gt; 0 (ρ only sets the speed); x − z → 0 as it does. Deterministic: it
/// starts from the back-projection of y with u = 0.
/// </summary>
public sealed class Admm : ISolver
{
    readonly Func<IDenoiser, IRegularizer> makeRegularizer;

    /// <param name="makeRegularizer">Builds the run's regulariser (plug-and-play needs the run's prior).</param>
    public Admm(Func<IDenoiser, IRegularizer> makeRegularizer, double lambda, double rho, int cgIterations)
    {
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(lambda), "λ must be non-negative");
        if (!(rho > 0)) throw new ArgumentOutOfRangeException(nameof(rho), "ρ must be positive");
        if (cgIterations < 1) throw new ArgumentOutOfRangeException(nameof(cgIterations), "at least one CG iteration");
        this.makeRegularizer = makeRegularizer;
        Lambda = lambda;
        Rho = rho;
        CgIterations = cgIterations;
    }

    public string Id => "admm";
    public double Lambda { get; }
    public double Rho { get; }
    public int CgIterations { get; }

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (context.Steps < 1) throw new SolverException("ADMM needs at least one iteration.");
        using var problem = new MapProblem(context, "ADMM", makeRegularizer(context.Prior), Lambda, CgIterations);
        var x = problem.InitialEstimate();
        var z = x.clone().DetachFromDisposeScope();
        var u = zeros_like(x).DetachFromDisposeScope();
        try
        {
            for (int k = 0; k < context.Steps; k++)
            {
                using (var scope = NewDisposeScope())
                {
                    Hqs.Replace(ref x, problem.DataStep(Rho, z - u, x));
                    Hqs.Replace(ref z, problem.PriorStep(Rho, x + u));
                    u.add_(x).sub_(z);
                }
                yield return problem.Report(k, context.Steps, x, z);
            }
        }
        finally
        {
            x.Dispose();
            z.Dispose();
            u.Dispose();
        }
    }
}
