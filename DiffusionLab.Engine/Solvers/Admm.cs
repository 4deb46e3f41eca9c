using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers.Regularizers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// ADMM in scaled form with a fixed penalty ρ (Boyd et al. 2011, §3.1.1; docs/maths.md §6):
/// x_{k+1} = (AᵀA/sigmaY² + ρI)⁻¹ (Aᵀy/sigmaY² + ρ(z_k − u_k)),
/// z_{k+1} = prox_{(λ/ρ)R}(x_{k+1} + u_k), u_{k+1} = u_k + x_{k+1} − z_{k+1}.
/// Each step reports Xt = x (the data-consistent half) and X0Hat = z (the regularised half, the
/// answer shown); Residual and Objective are those of z. For a convex R it converges to the
/// minimiser for any ρ &gt; 0 (ρ only sets the speed); x − z → 0 as it does. Deterministic: it
/// starts from the back-projection of y with u = 0.
/// </summary>
public sealed class Admm : SplittingSolver
{
    public Admm(Func<IDenoiser, IRegularizer> makeRegularizer, double lambda, double rho, int cgIterations,
        double cgTolerance = ConjugateGradient.DefaultTolerance)
        : base(makeRegularizer, lambda, cgIterations, cgTolerance)
    {
        if (!(rho > 0)) throw new ArgumentOutOfRangeException(nameof(rho), "ρ must be positive");
        Rho = rho;
    }

    public override string Id => "admm";
    public double Rho { get; }

    public override IEnumerable<SolverStep> Solve(SolverContext context)
    {
        using var problem = StartProblem(context, "ADMM");
        var x = problem.InitialEstimate();
        var z = x.clone().DetachFromDisposeScope();
        var u = zeros_like(x).DetachFromDisposeScope();
        try
        {
            for (int k = 0; k < context.Steps; k++)
            {
                using (var scope = NewDisposeScope())
                {
                    Replace(ref x, problem.DataStep(Rho, z - u, x));
                    Replace(ref z, problem.PriorStep(Rho, x.Plus(u)));
                    u.PlusInPlace(x).sub_(z);
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
