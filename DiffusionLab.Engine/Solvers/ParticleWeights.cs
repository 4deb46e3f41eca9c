using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The bookkeeping of a weighted particle system, one system per row: normalising log-weights,
/// the effective sample size, and systematic resampling. Rows are independent samples of a batch;
/// columns are that sample's N particles.
/// </summary>
public static class ParticleWeights
{
    /// <summary>Normalised weights w̃_n = exp(log w_n − logsumexp_m log w_m), [B, N] float64; every row sums to 1.</summary>
    public static Tensor Normalised(Tensor logWeights)
    {
        using var scope = NewDisposeScope();
        var log = logWeights.to(float64);
        return (log - log.logsumexp(1, keepdim: true)).exp().MoveToOuterDisposeScope();
    }

    /// <summary>ESS = 1 / Σ_n w̃_n² for normalised weights [B, N]: N when all are equal, 1 when one particle holds them all. [B].</summary>
    public static Tensor EffectiveSampleSize(Tensor normalisedWeights)
    {
        using var scope = NewDisposeScope();
        return normalisedWeights.to(float64).Squared().sum(1).reciprocal().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Systematic resampling (Kitagawa 1996): one uniform u per row, the N points (n + u)/N, and for
    /// each the particle whose slice of the cumulative weights holds it. Particle n is copied
    /// ⌊N w̃_n⌋ or ⌈N w̃_n⌉ times, so its expected number of copies is exactly N w̃_n (the weighted
    /// mean is kept in expectation) with the least variance of the usual schemes.
    /// </summary>
    /// <param name="normalisedWeights">[B, N], rows summing to 1.</param>
    /// <param name="uniform">[B] or [B, 1], values in [0, 1).</param>
    /// <returns>Ancestor indices [B, N] int64, ascending in each row.</returns>
    public static Tensor Systematic(Tensor normalisedWeights, Tensor uniform)
    {
        using var scope = NewDisposeScope();
        var weights = normalisedWeights.to(float64);
        long rows = weights.shape[0], count = weights.shape[1];
        var points = Range(0, count, 1, float64, weights.device).unsqueeze(0).Plus(uniform.to(float64).reshape(rows, 1)).DividedBy(count); // [B, N]
        return Locate(weights, points, count).MoveToOuterDisposeScope();
    }

    /// <summary>One particle per row drawn with probability w̃_n (the inverse of the cumulative weights at u). [B] int64.</summary>
    public static Tensor Draw(Tensor normalisedWeights, Tensor uniform)
    {
        using var scope = NewDisposeScope();
        var weights = normalisedWeights.to(float64);
        long rows = weights.shape[0];
        return Locate(weights, uniform.to(float64).reshape(rows, 1), weights.shape[1]).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>Rows of x [B·N, ...] picked by per-row ancestor indices [B, K] into that row's own N particles: [B·K, ...].</summary>
    public static Tensor Gather(Tensor particles, Tensor ancestors, long count)
    {
        using var scope = NewDisposeScope();
        var offsets = Range(0, ancestors.shape[0] * count, count, int64, ancestors.device).unsqueeze(1);
        return particles.index_select(0, ancestors.Plus(offsets).flatten()).MoveToOuterDisposeScope();
    }

    /// <summary>Standard normal draws [B, 1] turned into uniforms on [0, 1) by the normal CDF, so resampling draws from the run's own noise streams.</summary>
    public static Tensor UniformFromNormal(Tensor normal)
    {
        using var scope = NewDisposeScope();
        var u = normal.to(float64).DividedBy(Math.Sqrt(2)).erf().Plus(1).Times(0.5);
        return u.Clamped(0, 1 - 1e-12).MoveToOuterDisposeScope();
    }

    /// <summary>start, start + step, … below stop, each as a kept Scalar (an implicit one could be freed while libtorch reads it).</summary>
    internal static Tensor Range(long start, long stop, long step, ScalarType type, Device device)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        using var stride = step.ToScalar();
        return arange(first, end, stride, type, device);
    }

    static Tensor Locate(Tensor weights, Tensor points, long count)
    {
        var cumulative = weights.cumsum(1);
        var index = searchsorted(cumulative.contiguous(), points.contiguous(), right: true);
        return index.Clamped(0, count - 1).to(int64); // rounding can leave the last cumulative weight a hair below 1
    }
}
