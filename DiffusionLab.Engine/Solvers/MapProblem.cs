using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Solvers.Regularizers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The problem HQS and ADMM both minimise (docs/maths.md §6), ½ sigmaY⁻² ‖y − A x‖² + λ R(x), with
/// the three moves both splittings are made of: the data step (a linear solve by conjugate
/// gradient), the prior step (R's prox) and the per-sample report (residual, objective).
/// </summary>
/// <remarks>
/// A noiseless measurement (sigmaY = 0, or below <see cref="MinimumSigmaY"/>) is treated as
/// sigmaY = <see cref="MinimumSigmaY"/>: the data term stays finite and the answer fits y almost exactly.
/// Poisson noise uses the Gaussian std the noise model records for mid-grey.
/// </remarks>
sealed class MapProblem : IDisposable
{
    public const double MinimumSigmaY = 1e-3;

    readonly IMeasurement a;
    readonly Tensor y;
    readonly NoiseModel noise;
    readonly Tensor adjointOfYOverVariance; // Aᵀy / sigmaY², the fixed part of every data step's right-hand side
    readonly int cgIterations;
    readonly double cgTolerance;

    public MapProblem(SolverContext context, string solverName, IRegularizer regularizer, double lambda, int cgIterations, double cgTolerance)
    {
        a = context.RequireLinear(solverName);
        y = context.Y ?? throw new SolverException($"{solverName} needs the measurement y: choose a corruption first.");
        if (!y.shape.Skip(1).SequenceEqual(a.OutputShape))
            throw new SolverException($"{solverName}: the measurement has shape [{string.Join(", ", y.shape.Skip(1))}] but {a.Id} produces [{string.Join(", ", a.OutputShape)}].");
        noise = context.Noise;
        Regularizer = regularizer;
        Lambda = lambda;
        SigmaY = Math.Max(context.Noise.SigmaY, MinimumSigmaY);
        this.cgIterations = cgIterations;
        this.cgTolerance = cgTolerance;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        adjointOfYOverVariance = a.Adjoint(y).DividedBy(SigmaY * SigmaY).DetachFromDisposeScope();
    }

    public IRegularizer Regularizer { get; }
    public double Lambda { get; }
    public double SigmaY { get; }

    /// <summary>Where both splittings start: the operator's back-projection of y (A⁺y for a matrix), deterministic.</summary>
    public Tensor InitialEstimate()
    {
        using var scope = NewDisposeScope(); // operators may make temporaries (A⁺'s transpose) that only a scope collects
        using var noGrad = no_grad();
        return a.BackProject(y).DetachFromDisposeScope();
    }

    /// <summary>argmin_x ½ sigmaY⁻²‖y − Ax‖² + ½ penalty ‖x − anchor‖², i.e. (AᵀA/sigmaY² + penalty I) x = Aᵀy/sigmaY² + penalty·anchor.</summary>
    public Tensor DataStep(double penalty, Tensor anchor, Tensor warmStart)
    {
        using var scope = NewDisposeScope();
        var rhs = adjointOfYOverVariance.Plus(anchor.Times(penalty));
        var solved = ConjugateGradient.SolveDataStep(a, SigmaY, penalty, rhs, warmStart, cgIterations, cgTolerance);
        return solved.Solution.DetachFromDisposeScope();
    }

    /// <summary>argmin_z λR(z) + ½ penalty ‖z − v‖² = prox_{(λ/penalty) R}(v).</summary>
    public Tensor PriorStep(double penalty, Tensor v) => Regularizer.Prox(v, Lambda / penalty).DetachFromDisposeScope();

    /// <summary>
    /// The step record for the answer x0Hat, per sample: the noise model's residual ‖y − A x0Hat‖
    /// (the one every solver reports) and the objective, whose data term is the Gaussian one the
    /// splitting minimises.
    /// </summary>
    public SolverStep Report(int index, int total, Tensor xt, Tensor x0Hat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var predicted = a.Forward(x0Hat);
        var residual = DataResidual.Of(noise, y, predicted);
        var misfit = (y - predicted).flatten(1).Squared().sum(1).to(float64);
        double[]? objective = null;
        if (Regularizer.Value(x0Hat) is { } prior)
            objective = misfit.Times(0.5 / (SigmaY * SigmaY)).Plus(prior.to(float64).Times(Lambda)).data<double>().ToArray();
        return new SolverStep(index, total, -1, xt, x0Hat, residual, Regularizer.NetworkEvaluations, objective);
    }

    public void Dispose() => adjointOfYOverVariance.Dispose();
}
