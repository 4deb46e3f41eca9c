using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// The Helmert matrix: an n×n orthogonal matrix whose first row is the constant 1/√n and whose
/// row k (k ≥ 1) is (1, …, 1, −k, 0, …, 0)/√(k(k+1)). It is the SVD basis of every "average of n
/// values" corruption (block-average super-resolution, colorization): the average sees only the
/// first coordinate, with singular value 1/√n, and nothing of the other n − 1.
/// </summary>
static class HelmertBasis
{
    /// <summary>The matrix Q, [n, n] float64, rows orthonormal: Q x gives the coordinates of x.</summary>
    public static Tensor Matrix(int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        var values = new double[n * n];
        for (int j = 0; j < n; j++) values[j] = 1 / Math.Sqrt(n);
        for (int k = 1; k < n; k++)
        {
            double norm = Math.Sqrt(k * (k + 1.0));
            for (int j = 0; j < k; j++) values[k * n + j] = 1 / norm;
            values[k * n + k] = -k / norm;
        }
        return tensor(values, [n, n], float64);
    }
}
