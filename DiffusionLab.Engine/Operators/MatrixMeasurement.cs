using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// y = A x for an explicit matrix A of shape [m, d] acting on flattened samples: the
/// operator of the Gaussian-mixture benchmark and of the 2-D lab ("observe x₁", "a·x = y").
/// Its SVD is computed once (float64, full V so the null space has coordinates too).
/// </summary>
public sealed class MatrixMeasurement : ISvdMeasurement, IDisposable
{
    readonly Tensor matrix;       // [m, d]
    readonly Tensor pseudoInverse; // [d, m]
    readonly Tensor leftVectors;  // [m, r], r = min(m, d): the columns of U with a singular value
    readonly Tensor rightVectorsT; // [d, d], Vᵀ
    readonly Tensor singularValues; // [d], zero beyond r

    public MatrixMeasurement(Tensor matrix, long[] inputShape, string id = "matrix")
    {
        if (matrix.dim() != 2) throw new ArgumentException("A must be a matrix", nameof(matrix));
        if (matrix.shape[1] != inputShape.Aggregate(1L, (a, b) => a * b))
            throw new ArgumentException($"A has {matrix.shape[1]} columns but a sample has {inputShape.Aggregate(1L, (a, b) => a * b)} values", nameof(matrix));
        // Detached from any dispose scope the caller is in: the operator owns these until Dispose.
        this.matrix = matrix.detach().to(float32).clone().DetachFromDisposeScope();
        using var pinv64 = linalg.pinv(this.matrix.to(float64));
        pseudoInverse = pinv64.to(float32).DetachFromDisposeScope();
        using (var scope = NewDisposeScope())
        {
            var (u, s, vh) = linalg.svd(this.matrix.to(float64), fullMatrices: true);
            long d = vh.shape[0], r = s.shape[0];
            leftVectors = u.narrow(1, 0, r).contiguous().DetachFromDisposeScope();
            rightVectorsT = vh.contiguous().DetachFromDisposeScope();
            singularValues = (r < d ? cat([s, zeros(d - r, float64)]) : s.clone()).DetachFromDisposeScope();
        }
        Id = id;
        InputShape = inputShape;
        OutputShape = [matrix.shape[0]];
    }

    public string Id { get; }
    public bool IsLinear => true;
    public long[] InputShape { get; }
    public long[] OutputShape { get; }

    /// <summary>The matrix itself, [m, d] (owned by this operator).</summary>
    public Tensor Matrix => matrix;

    public Tensor Forward(Tensor x)
    {
        using var flat = x.flatten(1);
        using var transposed = matrix.t();
        return flat.matmul(transposed);
    }

    public Tensor Adjoint(Tensor y)
    {
        using var flat = y.matmul(matrix);
        return flat.reshape([y.shape[0], .. InputShape]);
    }

    /// <summary>The minimum-norm solution A⁺y.</summary>
    public Tensor BackProject(Tensor y)
    {
        using var transposed = pseudoInverse.t();
        using var flat = y.matmul(transposed);
        return flat.reshape([y.shape[0], .. InputShape]);
    }

    public long[] SpectralShape => [rightVectorsT.shape[0]];
    public Tensor SingularValues => singularValues;

    public Tensor ToSpectral(Tensor x)
    {
        using var scope = NewDisposeScope();
        return x.flatten(1).matmul(rightVectorsT.to(x).t()).MoveToOuterDisposeScope();
    }

    public Tensor FromSpectral(Tensor spectral)
    {
        using var scope = NewDisposeScope();
        return spectral.matmul(rightVectorsT.to(spectral)).reshape([spectral.shape[0], .. InputShape]).MoveToOuterDisposeScope();
    }

    public Tensor MeasurementToSpectral(Tensor y)
    {
        using var scope = NewDisposeScope();
        var measured = y.matmul(leftVectors.to(y));
        long missing = rightVectorsT.shape[0] - leftVectors.shape[1];
        return (missing > 0 ? cat([measured, zeros([y.shape[0], missing], y.dtype, y.device)], 1) : measured).MoveToOuterDisposeScope();
    }

    public Tensor SpectralToMeasurement(Tensor spectral)
    {
        using var scope = NewDisposeScope();
        return spectral.narrow(1, 0, leftVectors.shape[1]).matmul(leftVectors.to(spectral).t()).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        matrix.Dispose();
        pseudoInverse.Dispose();
        leftVectors.Dispose();
        rightVectorsT.Dispose();
        singularValues.Dispose();
    }
}
