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
        var norms = context.Noise.ResidualNorm(context.Y, context.Measurement.Forward(x0Hat.detach()));
        return norms.to(float64).data<double>().ToArray();
    }
}
