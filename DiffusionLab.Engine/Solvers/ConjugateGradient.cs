using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Matrix-free conjugate gradient (Hestenes &amp; Stiefel 1952) for a symmetric positive-definite
/// operator M applied to a batch: every sample [b] of the batch is its own system M x_b = rhs_b,
/// with its own step sizes and its own stopping test, so a sample solved in a batch gets exactly
/// the answer it would get alone. HQS and ADMM use it for the data step
/// (AᵀA/sigmaY² + μI) x = rhs (docs/maths.md §6), which needs only A's Forward and Adjoint, so it
/// works for every linear corruption without ever forming a matrix.
/// </summary>
public static class ConjugateGradient
{
    /// <summary>Stop a sample once ‖rhs − M x‖ ≤ this fraction of ‖rhs‖ (float32 reaches about 1e-6).</summary>
    public const double DefaultTolerance = 1e-6;

    /// <summary>The solution and how each sample's solve ended.</summary>
    /// <param name="Solution">x, same shape as the right-hand side; owned by the caller.</param>
    /// <param name="Iterations">CG iterations each sample took before it met the tolerance (or the cap).</param>
    /// <param name="RelativeResiduals">‖rhs − M x‖ / ‖rhs‖ per sample, from CG's recursively updated residual.</param>
    public sealed record Result(Tensor Solution, int[] Iterations, double[] RelativeResiduals);

    /// <summary>
    /// Solves (AᵀA / sigmaY² + μ I) x = rhs for every sample, starting from <paramref name="initialGuess"/>
    /// (a warm start: the previous iterate of HQS or ADMM makes later solves take few steps).
    /// </summary>
    public static Result SolveDataStep(IMeasurement a, double sigmaY, double mu, Tensor rhs, Tensor? initialGuess,
        int maxIterations, double tolerance = DefaultTolerance)
    {
        if (!a.IsLinear) throw new ArgumentException($"{a.Id} is nonlinear: the data step needs Aᵀ", nameof(a));
        if (!(sigmaY > 0)) throw new ArgumentOutOfRangeException(nameof(sigmaY), "sigmaY must be positive");
        if (!(mu >= 0)) throw new ArgumentOutOfRangeException(nameof(mu), "μ must be non-negative");
        double dataWeight = 1.0 / (sigmaY * sigmaY);
        return Solve(x =>
        {
            using var ax = a.Forward(x);
            using var atax = a.Adjoint(ax);
            return atax.Times(dataWeight).PlusScaledInPlace(x, mu);
        }, rhs, initialGuess, maxIterations, tolerance);
    }

    /// <summary>
    /// Solves M x = rhs per sample for a symmetric positive-definite, sample-wise <paramref name="applyOperator"/>
    /// (it must return a new tensor; this method disposes it).
    /// </summary>
    public static Result Solve(Func<Tensor, Tensor> applyOperator, Tensor rhs, Tensor? initialGuess,
        int maxIterations, double tolerance = DefaultTolerance)
    {
        if (maxIterations < 0) throw new ArgumentOutOfRangeException(nameof(maxIterations));
        long batch = rhs.shape[0];
        var iterations = new int[batch];
        using var noGrad = no_grad();
        using var outer = NewDisposeScope();

        var x = initialGuess is null ? zeros_like(rhs) : initialGuess.detach().clone();
        Tensor r;
        using (var mx = applyOperator(x)) r = rhs - mx;
        var p = r.clone();
        var rhsNorm = PerSampleDot(rhs, rhs).sqrt_();
        // A zero right-hand side has the zero solution; the floor keeps the test r ≤ tol·‖b‖ meaningful.
        var threshold = rhsNorm.Times(tolerance).AtLeast(1e-30);
        var rr = PerSampleDot(r, r);
        var active = rr.sqrt().gt(threshold);

        for (int k = 0; k < maxIterations && active.any().item<bool>(); k++)
        {
            using var step = NewDisposeScope();
            var stillRunning = active.data<bool>().ToArray();
            for (int b = 0; b < batch; b++)
                if (stillRunning[b]) iterations[b]++;
            var mp = applyOperator(p);
            var pmp = PerSampleDot(p, mp);
            // Converged samples take a zero step, so they stay exactly where they stopped.
            var alpha = where(active, rr / pmp.AtLeast(1e-30), zeros_like(rr));
            x.PlusInPlace(p * Broadcast(alpha, x));
            r.sub_(mp * Broadcast(alpha, r));
            var rrNext = PerSampleDot(r, r);
            var beta = where(active, rrNext / rr.AtLeast(1e-30), zeros_like(rr));
            p.mul_(Broadcast(beta, p)).PlusInPlace(r);
            rr.copy_(rrNext);
            active.logical_and_(rr.sqrt().gt(threshold));
        }

        var relative = (rr.sqrt() / rhsNorm.AtLeast(1e-30)).to(float64).data<double>().ToArray();
        return new Result(x.MoveToOuterDisposeScope(), iterations, relative);
    }

    static Tensor PerSampleDot(Tensor u, Tensor v) => (u * v).flatten(1).sum(1);

    static Tensor Broadcast(Tensor perSample, Tensor like)
    {
        var shape = Enumerable.Repeat(1L, (int)like.dim()).ToArray();
        shape[0] = perSample.shape[0];
        return perSample.to(like.dtype).reshape(shape);
    }
}
