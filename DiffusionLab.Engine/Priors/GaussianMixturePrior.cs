using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Operators;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A prior whose every answer is known exactly: p0 = Σ_k w_k N(m_k, Σ_k) with
/// Σ_k = U_k U_kᵀ + diag(d_k) (isotropic when U_k is absent and d_k = σ_k²). Diffusing it
/// keeps it a mixture, p_t = Σ_k w_k N(√ᾱ m_k, ᾱ Σ_k + (1−ᾱ) I) (docs/maths.md §7), so ε(x_t, t)
/// is closed form, and so is the posterior for a linear measurement with Gaussian noise.
/// </summary>
/// <remarks>
/// Everything is computed in float64. The covariance of a diffused component is
/// V Vᵀ + diag(e) with V = √ᾱ U and e = ᾱ d + 1 − ᾱ, so its inverse and log-determinant come
/// from the r×r capacitance matrix I + Vᵀ diag(e)⁻¹ V (Woodbury and the matrix determinant
/// lemma): image-sized components (D = 3072) never form a D×D matrix.
/// </remarks>
public sealed class GaussianMixturePrior : IDenoiser, IDisposable
{
    readonly Tensor logWeights;   // [K]
    readonly Tensor means;        // [K, D]
    readonly Tensor diagonal;     // [K, D]  d_k
    readonly Tensor? lowRank;     // [K, D, r]  U_k
    readonly Tensor alphaBarTable; // [T]

    public GaussianMixturePrior(string name, long[] sampleShape, IReadOnlyList<double> weights, Tensor means,
        Tensor diagonal, Tensor? lowRank = null, NoiseSchedule? schedule = null)
    {
        long dimension = sampleShape.Aggregate(1L, (a, b) => a * b);
        int k = weights.Count;
        if (k == 0) throw new ArgumentException("a mixture needs at least one component", nameof(weights));
        if (weights.Any(w => !(w > 0) || double.IsInfinity(w))) throw new ArgumentException("every weight must be positive", nameof(weights));
        if (!means.shape.SequenceEqual(new[] { k, dimension })) throw new ArgumentException($"means must have shape [{k}, {dimension}]", nameof(means));
        if (!diagonal.shape.SequenceEqual(new[] { k, dimension })) throw new ArgumentException($"diagonal variances must have shape [{k}, {dimension}]", nameof(diagonal));
        if (lowRank is not null && (lowRank.dim() != 3 || lowRank.shape[0] != k || lowRank.shape[1] != dimension))
            throw new ArgumentException($"low-rank factors must have shape [{k}, {dimension}, r]", nameof(lowRank));
        using (var minimum = diagonal.min())
            if (!(minimum.to(float64).item<double>() > 0)) throw new ArgumentException("diagonal variances must be positive", nameof(diagonal));

        Name = name;
        SampleShape = sampleShape;
        Dimension = dimension;
        Schedule = schedule ?? NoiseSchedule.Linear(1000);
        double total = weights.Sum();
        Weights = weights.Select(w => w / total).ToArray();
        logWeights = tensor(Weights.Select(w => Math.Log(w)).ToArray(), dtype: float64).DetachFromDisposeScope();
        // The prior outlives whatever scope it is built in: its tensors belong to it, not to that scope.
        this.means = means.detach().to(float64).clone().DetachFromDisposeScope();
        this.diagonal = diagonal.detach().to(float64).clone().DetachFromDisposeScope();
        this.lowRank = lowRank is null || lowRank.shape[2] == 0 ? null : lowRank.detach().to(float64).clone().DetachFromDisposeScope();
        alphaBarTable = tensor(Schedule.AlphasCumprod, dtype: float64).DetachFromDisposeScope();
    }

    /// <summary>A mixture of isotropic components N(m_k, σ_k² I); <paramref name="means"/> is [K, D] row by row.</summary>
    public static GaussianMixturePrior Isotropic(string name, long[] sampleShape, IReadOnlyList<double> weights,
        double[][] means, IReadOnlyList<double> standardDeviations, NoiseSchedule? schedule = null)
    {
        long dimension = sampleShape.Aggregate(1L, (a, b) => a * b);
        if (means.Length != weights.Count || standardDeviations.Count != weights.Count)
            throw new ArgumentException("weights, means and standard deviations must list the same components");
        if (means.Any(m => m.Length != dimension)) throw new ArgumentException($"every mean must have {dimension} values", nameof(means));
        using var meanTensor = tensor(means.SelectMany(m => m).ToArray(), [means.Length, dimension], float64);
        using var stds = tensor(standardDeviations.ToArray(), dtype: float64);
        using var variances = stds.Squared().unsqueeze(1).expand(means.Length, dimension).contiguous();
        return new GaussianMixturePrior(name, sampleShape, weights, meanTensor, variances, null, schedule);
    }

    public string Name { get; }
    public NoiseSchedule Schedule { get; }
    public long[] SampleShape { get; }
    public Device Device => CPU;

    /// <summary>Number of values in one sample, D.</summary>
    public long Dimension { get; }
    public int ComponentCount => Weights.Length;

    /// <summary>Normalised mixture weights w_k.</summary>
    public double[] Weights { get; }

    /// <summary>Component means m_k, [K, D] float64 (owned by the prior).</summary>
    public Tensor Means => means;

    /// <summary>The dense covariance Σ_k = U_k U_kᵀ + diag(d_k) of every component, [K, D, D] float64 (for small D).</summary>
    public Tensor DenseCovariances()
    {
        using var scope = NewDisposeScope();
        var dense = diag_embed(diagonal);
        if (lowRank is not null) dense = dense.Plus(lowRank.matmul(lowRank.transpose(1, 2)));
        return dense.MoveToOuterDisposeScope();
    }

    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        using var scope = NewDisposeScope();
        var alphaBar = alphaBarTable.index_select(0, t.to(int64));
        var (logJoint, precisionTimesOffset) = ComponentTerms(xt, alphaBar);
        var responsibilities = logJoint.softmax(1).unsqueeze(-1);
        // ε = −√(1−ᾱ) ∇log p_t = √(1−ᾱ) Σ_k r_k C_k⁻¹ (x − √ᾱ m_k)
        var eps = alphaBar.SubtractedFrom(1).sqrt().unsqueeze(1) * (responsibilities * precisionTimesOffset).sum(1);
        return eps.to(xt.dtype).reshape(xt.shape).MoveToOuterDisposeScope();
    }

    /// <summary>∇log p_t(x) at a given ᾱ (one value per sample, [B]), for the 2-D lab's arrows and for tests.</summary>
    public Tensor Score(Tensor x, Tensor alphaBar)
    {
        using var scope = NewDisposeScope();
        var (logJoint, precisionTimesOffset) = ComponentTerms(x, alphaBar.to(float64));
        var score = -(logJoint.softmax(1).unsqueeze(-1) * precisionTimesOffset).sum(1);
        return score.to(x.dtype).reshape(x.shape).MoveToOuterDisposeScope();
    }

    /// <summary>log p_t(x) with all constants, float64 [B]; ᾱ = 1 gives the prior's own log-density.</summary>
    public Tensor LogDensity(Tensor x, Tensor alphaBar)
    {
        using var scope = NewDisposeScope();
        var (logJoint, _) = ComponentTerms(x, alphaBar.to(float64));
        return logJoint.logsumexp(1).MoveToOuterDisposeScope();
    }

    public Tensor LogDensity(Tensor x, double alphaBar)
    {
        using var a = ScalarArithmetic.Full([x.shape[0]], alphaBar, float64);
        return LogDensity(x, a);
    }

    /// <summary>log p_t on a grid of the plane (2-D mixtures only), row by row; ᾱ = 1 is the prior itself.</summary>
    public double[] LogDensityOnGrid(PlaneGrid grid, double alphaBar = 1.0)
    {
        if (Dimension != 2) throw new InvalidOperationException("Only a 2-D mixture can be drawn on a plane grid.");
        using var points = grid.Points();
        using var values = LogDensity(points, alphaBar);
        return PlaneGrid.ToArray(values);
    }

    /// <summary>
    /// Per sample and component: log w_k + log N(x; √ᾱ m_k, C_k), [B, K], and C_k⁻¹ (x − √ᾱ m_k), [B, K, D].
    /// </summary>
    (Tensor LogJoint, Tensor PrecisionTimesOffset) ComponentTerms(Tensor x, Tensor alphaBar)
    {
        long batch = x.shape[0];
        var flat = x.reshape(batch, Dimension).to(float64);
        var a = alphaBar.reshape(batch, 1, 1);
        var offset = flat.unsqueeze(1) - a.sqrt() * means.unsqueeze(0);          // [B, K, D]
        var inverseDiagonal = (a * diagonal.unsqueeze(0)).Plus(a.SubtractedFrom(1)).reciprocal(); // [B, K, D]  1/e
        var whitened = offset * inverseDiagonal;
        var logDeterminant = -inverseDiagonal.log().sum(-1);                      // Σ log e
        var precisionTimesOffset = whitened;
        if (lowRank is not null)
        {
            long rank = lowRank.shape[2];
            var scaledFactors = lowRank.unsqueeze(0) * a.unsqueeze(-1).sqrt();   // V = √ᾱ U, [B, K, D, r]
            var capacitance = eye(rank, dtype: float64).Plus(scaledFactors.transpose(2, 3).matmul(scaledFactors * inverseDiagonal.unsqueeze(-1)));
            var cholesky = linalg.cholesky(capacitance);                         // [B, K, r, r]
            var projected = scaledFactors.transpose(2, 3).matmul(whitened.unsqueeze(-1)); // Vᵀ E⁻¹ (x − μ)
            var solved = cholesky_solve(projected, cholesky);                    // [B, K, r, 1]
            precisionTimesOffset = whitened - inverseDiagonal * scaledFactors.matmul(solved).squeeze(-1);
            logDeterminant = logDeterminant.Plus(cholesky.diagonal(dim1: -2, dim2: -1).log().sum(-1).Times(2));
        }
        var quadratic = (offset * precisionTimesOffset).sum(-1);
        var logJoint = logWeights.unsqueeze(0) - quadratic.Plus(logDeterminant).Plus(Dimension * Math.Log(2 * Math.PI)).Times(0.5);
        return (logJoint, precisionTimesOffset);
    }

    /// <summary>Exact samples of p0, [n, ..SampleShape] float32.</summary>
    public Tensor Sample(long count, Generator generator)
    {
        using var scope = NewDisposeScope();
        var components = ChooseComponents(count, generator);
        var x = means.index_select(0, components)
                .Plus(diagonal.index_select(0, components).sqrt() * randn([count, Dimension], float64, generator: generator));
        if (lowRank is not null)
        {
            var latent = randn([count, lowRank.shape[2], 1], float64, generator: generator);
            x = x.Plus(lowRank.index_select(0, components).matmul(latent).squeeze(-1));
        }
        return x.to(float32).reshape([count, .. SampleShape]).MoveToOuterDisposeScope();
    }

    Tensor ChooseComponents(long count, Generator generator)
    {
        using var probabilities = tensor(Weights, dtype: float64);
        return multinomial(probabilities, count, replacement: true, generator: generator);
    }

    /// <summary>
    /// The exact posterior p(x0 | y) for y = A x0 + n, n ~ N(0, σ_y² I), with A an explicit [m, D]
    /// matrix (docs/maths.md §7). Dense in D: meant for the benchmark and the 2-D lab, not for images.
    /// </summary>
    public GaussianMixturePosterior Posterior(Tensor matrix, Tensor y, double sigmaY)
    {
        if (Dimension > GaussianMixturePosterior.MaxDimension)
            throw new InvalidOperationException($"The exact posterior is computed with dense {Dimension}×{Dimension} matrices; it is offered up to {GaussianMixturePosterior.MaxDimension} dimensions.");
        using var dense = DenseCovariances();
        return GaussianMixturePosterior.FromLinearGaussian(Weights, means, dense, matrix, y, sigmaY, SampleShape);
    }

    /// <summary>The exact posterior for a linear measurement; A is read from a <see cref="MatrixMeasurement"/> or materialised column by column from Forward.</summary>
    public GaussianMixturePosterior Posterior(IMeasurement measurement, Tensor y, NoiseModel noise)
    {
        if (!measurement.IsLinear) throw new InvalidOperationException($"The exact posterior needs a linear corruption; {measurement.Id} is not.");
        if (noise.Kind != NoiseKind.Gaussian) throw new InvalidOperationException("The exact posterior is known for Gaussian measurement noise only.");
        if (measurement is MatrixMeasurement explicitMatrix) return Posterior(explicitMatrix.Matrix, y, noise.SigmaY);
        if (Dimension > GaussianMixturePosterior.MaxDimension)
            throw new InvalidOperationException($"The exact posterior is offered up to {GaussianMixturePosterior.MaxDimension} dimensions.");
        using var scope = NewDisposeScope();
        var basis = eye(Dimension, dtype: float32).reshape([Dimension, .. SampleShape]);
        var columns = measurement.Forward(basis).reshape(Dimension, -1); // row j is A e_j
        return Posterior(columns.t().contiguous(), y, noise.SigmaY);
    }

    public void Dispose()
    {
        logWeights.Dispose();
        means.Dispose();
        diagonal.Dispose();
        lowRank?.Dispose();
        alphaBarTable.Dispose();
    }
}
