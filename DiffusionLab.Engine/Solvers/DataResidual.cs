using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>The per-sample data residual every <see cref="SolverStep"/> reports.</summary>
static class DataResidual
{
    /// <summary>‖y − A(x̂0)‖ per sample (the noise model's norm), or empty for unconditional sampling.</summary>
    public static double[] PerSample(SolverContext context, Tensor x0Hat)
    {
        if (context.Measurement is null || context.Y is null) return [];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        return Of(context.Noise, context.Y, context.Measurement.Forward(x0Hat.detach()));
    }

    /// <summary>
    /// The noise model's ‖y − A(x̂0)‖ per sample for an A(x̂0) already computed. Every solver reports
    /// this one quantity (a Poisson measurement weighs each count by its variance), so the lab's
    /// residual chart means the same thing for HQS as for DPS.
    /// </summary>
    public static double[] Of(Operators.NoiseModel noise, Tensor y, Tensor predicted)
    {
        using var scope = NewDisposeScope();
        return noise.ResidualNorm(y, predicted).to(float64).data<double>().ToArray();
    }
}
