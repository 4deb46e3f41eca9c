using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// The tensors a diffusion solver carries from one step to the next (x_t and its x̂0). Each
/// step runs in its own dispose scope that is closed again before the solver yields, so no
/// scope of the solver is open while the consumer's code runs between steps.
/// </summary>
sealed class CurrentIterate(Tensor x) : IDisposable
{
    public Tensor X { get; private set; } = x;
    public Tensor? X0Hat { get; private set; }

    /// <summary>Runs one step in a fresh scope; keeps its (x, x̂0), releases the previous ones and everything else it made.</summary>
    public void Advance(Func<(Tensor X, Tensor X0Hat)> step)
    {
        Tensor nextX, nextX0Hat;
        using (var scope = NewDisposeScope())
        {
            var (x, x0Hat) = step();
            nextX = x.detach().DetachFromDisposeScope();
            nextX0Hat = x0Hat.detach().DetachFromDisposeScope();
        }
        X.Dispose();
        X0Hat?.Dispose();
        X = nextX;
        X0Hat = nextX0Hat;
    }

    /// <summary>The step record for the current iterate; residuals are computed here unless the solver already has them.</summary>
    public SolverStep Report(SolverContext context, int index, int total, int timestep, int evaluations, double[]? residual = null) =>
        new(index, total, Math.Max(timestep, 0), X, X0Hat ?? X, residual ?? DataResidual.PerSample(context, X0Hat ?? X), evaluations);

    public void Dispose()
    {
        X.Dispose();
        X0Hat?.Dispose();
    }
}
