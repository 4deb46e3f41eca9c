using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers.Regularizers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// What HQS and ADMM share: a regulariser made per run, the prior weight λ, and the accuracy of
/// the conjugate-gradient data step. Each subclass is its algorithm box from docs/maths.md §6.
/// </summary>
public abstract class SplittingSolver : ISolver
{
    readonly Func<IDenoiser, IRegularizer> makeRegularizer;

    /// <param name="makeRegularizer">Builds the run's regulariser (plug-and-play needs the run's prior).</param>
    /// <param name="lambda">λ in ½ sigmaY⁻²‖y − Ax‖² + λR(x).</param>
    /// <param name="cgIterations">Cap on the conjugate-gradient steps of each data step.</param>
    /// <param name="cgTolerance">Each data step stops once ‖rhs − M x‖ ≤ this × ‖rhs‖: it bounds how close to the exact optimum the iterates can get.</param>
    protected SplittingSolver(Func<IDenoiser, IRegularizer> makeRegularizer, double lambda, int cgIterations, double cgTolerance)
    {
        if (!(lambda >= 0)) throw new ArgumentOutOfRangeException(nameof(lambda), "λ must be non-negative");
        if (cgIterations < 1) throw new ArgumentOutOfRangeException(nameof(cgIterations), "at least one CG iteration");
        if (!(cgTolerance > 0)) throw new ArgumentOutOfRangeException(nameof(cgTolerance), "the CG tolerance must be positive");
        this.makeRegularizer = makeRegularizer;
        Lambda = lambda;
        CgIterations = cgIterations;
        CgTolerance = cgTolerance;
    }

    public abstract string Id { get; }
    public double Lambda { get; }
    public int CgIterations { get; }
    public double CgTolerance { get; }

    public abstract IEnumerable<SolverStep> Solve(SolverContext context);

    /// <summary>The run's problem, or a plain-words refusal (no measurement, nonlinear A, too few steps).</summary>
    private protected MapProblem StartProblem(SolverContext context, string solverName)
    {
        if (context.Steps < 1) throw new SolverException($"{solverName} needs at least one iteration.");
        return new MapProblem(context, solverName, makeRegularizer(context.Prior), Lambda, CgIterations, CgTolerance);
    }

    /// <summary>Disposes the solver-owned iterate and takes the next one in its place.</summary>
    private protected static void Replace(ref Tensor current, Tensor next)
    {
        current.Dispose();
        current = next;
    }
}
