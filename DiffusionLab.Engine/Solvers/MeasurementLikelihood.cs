using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>−log p(y | x) up to a constant, per sample, for the samplers that weigh by the likelihood itself (TDS, DAPS).</summary>
static class MeasurementLikelihood
{
    /// <summary>
    /// ½ ‖y − A(x)‖² / σ_y² for Gaussian noise; for Poisson noise ½ of the variance-weighted squared norm
    /// (each count weighed by the inverse of its variance, as DPS's norm). [B].
    /// </summary>
    public static Tensor NegativeLog(NoiseModel noise, Tensor y, Tensor predicted)
    {
        using var scope = NewDisposeScope();
        // The Gaussian case sums squares directly: the square of a norm has a gradient at a zero residual, the norm does not.
        var half = noise.Kind == NoiseKind.Gaussian
            ? (y - predicted).flatten(1).Squared().sum(1).DividedBy(2 * noise.SigmaY * noise.SigmaY)
            : noise.ResidualNorm(y, predicted).Squared().Times(0.5);
        return half.MoveToOuterDisposeScope();
    }

    /// <summary>The refusal both samplers give a measurement without noise: the likelihood they weigh by would be a point mass.</summary>
    public static void RequireNoise(NoiseModel noise, string solverName)
    {
        if (noise.Kind == NoiseKind.Gaussian && !(noise.SigmaY > 0))
            throw new SolverException($"{solverName} weighs by the likelihood of y, which needs measurement noise: set the noise σ_y above 0.");
    }
}
