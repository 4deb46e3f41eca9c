using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// y = A x for an explicit matrix A of shape [m, d] acting on flattened samples: the
/// operator of the Gaussian-mixture benchmark and of the 2-D lab ("observe x₁", "a·x = y").
/// </summary>
public sealed class MatrixMeasurement : IMeasurement, IDisposable
{
    readonly Tensor matrix;       // [m, d]
    readonly Tensor pseudoInverse; // [d, m]

    public MatrixMeasurement(Tensor matrix, long[] inputShape, string id = "matrix")
    {
        if (matrix.dim() != 2) throw new ArgumentException("A must be a matrix", nameof(matrix));
        if (matrix.shape[1] != inputShape.Aggregate(1L, (a, b) => a * b))
            throw new ArgumentException($"A has {matrix.shape[1]} columns but a sample has {inputShape.Aggregate(1L, (a, b) => a * b)} values", nameof(matrix));
        // Detached from any dispose scope the caller is in: the operator owns these until Dispose.
        this.matrix = matrix.detach().to(float32).clone().DetachFromDisposeScope();
        using var pinv64 = linalg.pinv(this.matrix.to(float64));
        pseudoInverse = pinv64.to(float32).DetachFromDisposeScope();
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

    public void Dispose()
    {
        matrix.Dispose();
        pseudoInverse.Dispose();
    }
}
