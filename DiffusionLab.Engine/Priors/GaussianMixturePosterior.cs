using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// The exact posterior of a Gaussian-mixture prior under y = A x0 + n, n ~ N(0, σ_y² I): again a
/// mixture, with weights w̃_k, means m̃_k and covariances Σ̃_k (docs/maths.md §7). The truth every
/// posterior solver is measured against, and what the 2-D lab draws beside the particles.
/// </summary>
public sealed class GaussianMixturePosterior : IDisposable
{
    /// <summary>Dense D×D matrices are formed per component; beyond this the cost is not worth it.</summary>
    public const long MaxDimension = 1024;

    readonly Tensor logWeights;   // [K]
    readonly Tensor means;        // [K, D]
    readonly Tensor covariances;  // [K, D, D]
    readonly Tensor factors;      // [K, D, D], Σ̃_k = L_k L_kᵀ (from an eigendecomposition, so singular Σ̃ works)
    readonly Tensor precisions;   // [K, D, D], pseudo-inverse of Σ̃_k
    readonly Tensor logDeterminants; // [K]

    GaussianMixturePosterior(Tensor logWeights, Tensor means, Tensor covariances, long[] sampleShape)
    {
        // The posterior outlives whatever scope it is built in: its tensors belong to it.
        this.logWeights = logWeights.DetachFromDisposeScope();
        this.means = means.DetachFromDisposeScope();
        this.covariances = covariances.DetachFromDisposeScope();
        SampleShape = sampleShape;
        using var scope = NewDisposeScope();
        var (eigenvalues, eigenvectors) = linalg.eigh(covariances);
        // Noise-free measurements make Σ̃ singular along A's rows; clamp at a tiny floor so that
        // sampling stays exact and the density stays finite (a very sharp ridge).
        var floor = eigenvalues.amax([-1], keepdim: true).AtLeast(1e-30).Times(1e-12);
        var clamped = eigenvalues.maximum(floor);
        factors = (eigenvectors * clamped.sqrt().unsqueeze(-2)).DetachFromDisposeScope();
        precisions = (eigenvectors * clamped.reciprocal().unsqueeze(-2)).matmul(eigenvectors.transpose(1, 2)).DetachFromDisposeScope();
        logDeterminants = clamped.log().sum(-1).DetachFromDisposeScope();
    }

    /// <summary>
    /// Kalman form of docs/maths.md §7 (equal to (Σ⁻¹ + AᵀA/σ²)⁻¹ but valid for σ_y = 0 too):
    /// S = A Σ Aᵀ + σ² I, G = Σ Aᵀ S⁻¹, m̃ = m + G (y − A m), Σ̃ = Σ − G A Σ, w̃ ∝ w N(y; A m, S).
    /// </summary>
    internal static GaussianMixturePosterior FromLinearGaussian(IReadOnlyList<double> weights, Tensor priorMeans,
        Tensor priorCovariances, Tensor matrix, Tensor y, double sigmaY, long[] sampleShape)
    {
        if (!(sigmaY >= 0)) throw new ArgumentOutOfRangeException(nameof(sigmaY), "the noise level must be zero or positive");
        using var scope = NewDisposeScope();
        var a = matrix.to(float64);
        long m = a.shape[0], d = a.shape[1];
        if (d != priorMeans.shape[1]) throw new ArgumentException($"A has {d} columns but samples have {priorMeans.shape[1]} values", nameof(matrix));
        var observed = y.to(float64).reshape(m);
        var sigma = priorCovariances;                                        // [K, D, D]
        var sigmaAt = sigma.matmul(a.t());                                   // [K, D, m]
        var s = a.matmul(sigmaAt).Plus(eye(m, dtype: float64).Times(sigmaY * sigmaY)); // [K, m, m]
        var sCholesky = linalg.cholesky(s);
        var innovation = observed.unsqueeze(0) - priorMeans.matmul(a.t());   // [K, m]
        var gainT = cholesky_solve(sigmaAt.transpose(1, 2), sCholesky);      // S⁻¹ A Σ = Gᵀ, [K, m, D]
        var posteriorMeans = priorMeans.Plus(gainT.transpose(1, 2).matmul(innovation.unsqueeze(-1)).squeeze(-1));
        var posteriorCovariances = sigma - sigmaAt.matmul(gainT);
        posteriorCovariances = posteriorCovariances.Plus(posteriorCovariances.transpose(1, 2)).DividedBy(2);
        var whitenedInnovation = linalg.solve_triangular(sCholesky, innovation.unsqueeze(-1), upper: false).squeeze(-1);
        var logEvidence = (whitenedInnovation.Squared().sum(-1).Times(-0.5)
                           - sCholesky.diagonal(dim1: -2, dim2: -1).log().sum(-1))
                          .Minus(0.5 * m * Math.Log(2 * Math.PI));
        var logPosteriorWeights = tensor(weights.Select(w => Math.Log(w)).ToArray(), dtype: float64).Plus(logEvidence);
        logPosteriorWeights = logPosteriorWeights - logPosteriorWeights.logsumexp(0);
        var result = new GaussianMixturePosterior(logPosteriorWeights.MoveToOuterDisposeScope(), posteriorMeans.MoveToOuterDisposeScope(),
            posteriorCovariances.MoveToOuterDisposeScope(), sampleShape);
        return result;
    }

    public long[] SampleShape { get; }
    public long Dimension => means.shape[1];
    public int ComponentCount => (int)means.shape[0];

    /// <summary>w̃_k.</summary>
    public double[] Weights
    {
        get
        {
            using var w = logWeights.exp();
            return w.data<double>().ToArray();
        }
    }

    /// <summary>m̃_k, [K, D] float64 (owned).</summary>
    public Tensor Means => means;

    /// <summary>Σ̃_k, [K, D, D] float64 (owned).</summary>
    public Tensor Covariances => covariances;

    /// <summary>The posterior mean Σ_k w̃_k m̃_k, [D] float64.</summary>
    public Tensor Mean()
    {
        using var w = logWeights.exp();
        return w.matmul(means);
    }

    /// <summary>Exact posterior samples, [n, ..SampleShape] float32.</summary>
    public Tensor Sample(long count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var components = multinomial(logWeights.exp(), count, replacement: true, generator: generator);
        var z = randn([count, Dimension, 1], float64, generator: generator);
        var x = means.index_select(0, components).Plus(factors.index_select(0, components).matmul(z).squeeze(-1));
        return x.to(float32).reshape([count, .. SampleShape]).MoveToOuterDisposeScope();
    }

    /// <summary>log p(x | y) for points [N, ..SampleShape] (or [N, D]), float64 [N].</summary>
    public Tensor LogDensity(Tensor points)
    {
        using var scope = NewDisposeScope();
        var x = points.reshape(points.shape[0], Dimension).to(float64);
        var offset = x.unsqueeze(1) - means.unsqueeze(0);                       // [N, K, D]
        var quadratic = (offset.unsqueeze(-2).matmul(precisions.unsqueeze(0)).squeeze(-2) * offset).sum(-1);
        var logJoint = logWeights.unsqueeze(0) - quadratic.Plus(logDeterminants.unsqueeze(0)).Plus(Dimension * Math.Log(2 * Math.PI)).Times(0.5);
        return logJoint.logsumexp(1).MoveToOuterDisposeScope();
    }

    /// <summary>log p(x | y) on a grid of the plane (2-D only), row by row.</summary>
    public double[] LogDensityOnGrid(PlaneGrid grid)
    {
        if (Dimension != 2) throw new InvalidOperationException("Only a 2-D posterior can be drawn on a plane grid.");
        using var points = grid.Points();
        using var values = LogDensity(points);
        return PlaneGrid.ToArray(values);
    }

    public void Dispose()
    {
        logWeights.Dispose();
        means.Dispose();
        covariances.Dispose();
        factors.Dispose();
        precisions.Dispose();
        logDeterminants.Dispose();
    }
}
