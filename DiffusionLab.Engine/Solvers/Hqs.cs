using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers.Regularizers;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Half-quadratic splitting (docs/maths.md §6): minimise ½ sigmaY⁻²‖y − Ax‖² + λR(x) by splitting
/// x = z with a penalty μ_k = μ0·growth^k that grows every iteration:
/// x_{k+1} = (AᵀA/sigmaY² + μ_k I)⁻¹ (Aᵀy/sigmaY² + μ_k z_k), z_{k+1} = prox_{(λ/μ_k)R}(x_{k+1}).
/// Each step reports Xt = x (the data-consistent half) and X0Hat = z (the regularised half, the
/// answer shown); Residual and Objective are those of z. Deterministic: it starts from the
/// back-projection of y and uses no randomness.
/// </summary>
/// <remarks>
/// HQS is a penalty method: at a fixed μ its fixed point solves a problem with the prior
/// softened (for Tikhonov, λ becomes λμ/(λ+μ)), and as μ grows the iterates slow down, so with
/// geometric growth it lands close to, not exactly on, the minimiser (within a fraction of
/// order growth − 1). ADMM converges to it exactly.
/// </remarks>
public sealed class Hqs : SplittingSolver
{
    public Hqs(Func<IDenoiser, IRegularizer> makeRegularizer, double lambda, double mu0, double growth, int cgIterations,
        double cgTolerance = ConjugateGradient.DefaultTolerance)
        : base(makeRegularizer, lambda, cgIterations, cgTolerance)
    {
        if (!(mu0 > 0)) throw new ArgumentOutOfRangeException(nameof(mu0), "μ0 must be positive");
        if (!(growth >= 1)) throw new ArgumentOutOfRangeException(nameof(growth), "the growth factor must be at least 1");
        Mu0 = mu0;
        Growth = growth;
    }

    public override string Id => "hqs";
    public double Mu0 { get; }
    public double Growth { get; }

    /// <summary>μ_k, the penalty of iteration k (0-based).</summary>
    public double Penalty(int k) => Mu0 * Math.Pow(Growth, k);

    public override IEnumerable<SolverStep> Solve(SolverContext context)
    {
        using var problem = StartProblem(context, "HQS");
        var x = problem.InitialEstimate();
        var z = x.clone().DetachFromDisposeScope();
        try
        {
            for (int k = 0; k < context.Steps; k++)
            {
                double mu = Penalty(k);
                Replace(ref x, problem.DataStep(mu, z, x));
                Replace(ref z, problem.PriorStep(mu, x));
                yield return problem.Report(k, context.Steps, x, z);
            }
        }
        finally
        {
            x.Dispose();
            z.Dispose();
        }
    }
}
