using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Benchmarks;

/// <summary>
/// Sliced Wasserstein distance between two sample sets of possibly different sizes:
/// SW_p = ( mean over θ of W_p(θᵀX, θᵀY)^p )^(1/p) for P directions θ drawn uniformly on the
/// sphere from a seeded generator. This is POT's <c>sliced_wasserstein_distance</c> convention
/// (p = 2, as used by the MCGdiff benchmark with 100 projections). Each 1-D distance is exact
/// for the two empirical distributions (their quantile functions are compared piece by piece).
/// </summary>
public static class SlicedWasserstein
{
    public const int DefaultProjections = 100;

    /// <param name="first">Samples [N, ...], flattened to [N, D].</param>
    /// <param name="second">Samples [M, ...], flattened to [M, D].</param>
    /// <param name="seed">Seeds the directions, so the same seed measures along the same directions.</param>
    public static double Distance(Tensor first, Tensor second, long seed, int projections = DefaultProjections, double p = 2)
    {
        using var generator = new Generator((ulong)seed);
        using var directions = Directions(first.reshape(first.shape[0], -1).shape[1], projections, generator);
        return Distance(first, second, directions, p);
    }

    /// <summary>P directions drawn uniformly on the sphere in D dimensions, as the columns of a float64 [D, P] tensor.</summary>
    public static Tensor Directions(long dimensions, int projections, Generator generator)
    {
        if (projections < 1) throw new ArgumentOutOfRangeException(nameof(projections), "at least one projection");
        using var scope = NewDisposeScope();
        var directions = randn([dimensions, projections], float64, generator: generator);
        return (directions / directions.norm(0, keepdim: true)).MoveToOuterDisposeScope();
    }

    /// <summary>The distance along given directions [D, P] (see <see cref="Directions"/>): a run that measures itself many times keeps one set.</summary>
    public static double Distance(Tensor first, Tensor second, Tensor directions, double p = 2)
    {
        if (!(p >= 1)) throw new ArgumentOutOfRangeException(nameof(p), "p must be at least 1");
        using var scope = NewDisposeScope();
        var x = first.reshape(first.shape[0], -1).to(float64);
        var y = second.reshape(second.shape[0], -1).to(float64);
        if (x.shape[1] != y.shape[1]) throw new ArgumentException($"the sample sets have {x.shape[1]} and {y.shape[1]} dimensions");
        if (x.shape[1] != directions.shape[0]) throw new ArgumentException($"the samples have {x.shape[1]} dimensions but the directions {directions.shape[0]}");
        if (x.shape[0] == 0 || y.shape[0] == 0) throw new ArgumentException("both sample sets need at least one sample");
        int projections = (int)directions.shape[1];
        var projectedX = x.matmul(directions).t().sort(1).Values.contiguous();
        var projectedY = y.matmul(directions).t().sort(1).Values.contiguous();
        var xs = projectedX.data<double>().ToArray();
        var ys = projectedY.data<double>().ToArray();
        int n = (int)x.shape[0], m = (int)y.shape[0];
        double total = 0;
        for (int j = 0; j < projections; j++)
            total += OneDimensional(xs.AsSpan(j * n, n), ys.AsSpan(j * m, m), p);
        return Math.Pow(total / projections, 1 / p);
    }

    /// <summary>W_p^p between two sorted empirical distributions with uniform weights: ∫₀¹ |F⁻¹(q) − G⁻¹(q)|^p dq.</summary>
    static double OneDimensional(ReadOnlySpan<double> sortedX, ReadOnlySpan<double> sortedY, double p)
    {
        int n = sortedX.Length, m = sortedY.Length;
        int i = 0, j = 0;
        double position = 0, sum = 0;
        while (i < n && j < m)
        {
            // Both quantile functions are constant up to the next breakpoint (i+1)/n or (j+1)/m.
            double nextX = (i + 1.0) / n, nextY = (j + 1.0) / m;
            double next = Math.Min(nextX, nextY);
            double gap = Math.Abs(sortedX[i] - sortedY[j]);
            sum += (next - position) * (p == 2 ? gap * gap : p == 1 ? gap : Math.Pow(gap, p));
            position = next;
            if (nextX <= next) i++;
            if (nextY <= next) j++;
        }
        return sum;
    }
}
