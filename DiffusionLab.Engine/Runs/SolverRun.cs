using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// What a solver is asked: the prior, A, the measurement y (null for sampling) and the noise model y was made with.
/// y is [1, ..OutputShape], one measurement every sample shares, or [count, ..OutputShape], one per sample
/// (the evaluation's batch of different images under the same A).
/// </summary>
public sealed record RunProblem(IDenoiser Prior, IMeasurement? Measurement, Tensor? Y, NoiseModel Noise);

/// <summary>
/// The loop every run goes through, the lab's, a diversity batch, the 2-D lab's particle cloud and
/// the mixture benchmark alike: it makes the solver's context (the prior, or the scheduler's batched
/// stand-in for it; y repeated for every sample; the noise source), steps the solver, and stops
/// between steps once cancelled. Nothing else builds a <see cref="SolverContext"/> for a run.
/// </summary>
public static class SolverRun
{
    /// <summary>
    /// The solver's raw steps for <paramref name="count"/> samples of one problem. The tensors of a step
    /// are the solver's and stay valid only until the next one (see <see cref="SolverStep"/>).
    /// </summary>
    /// <param name="noise">Where the samples' noise comes from (<see cref="RunSeeds"/>); disposed when the run ends.</param>
    /// <param name="scheduler">When given, the network calls are batched with other runs' on the same prior.</param>
    /// <param name="client">Who started the run, for the scheduler's per-client share.</param>
    public static IEnumerable<SolverStep> Steps(ISolver solver, RunProblem problem, int steps, long count, NoiseSource noise,
        CancellationToken cancellation = default, RunScheduler? scheduler = null, string client = "")
    {
        using var source = noise;
        using var lane = scheduler?.Join(problem.Prior, client);
        using var y = Repeated(problem.Y, count);
        var context = new SolverContext((IDenoiser?)lane ?? problem.Prior, problem.Measurement, y, problem.Noise, steps, count, source);
        cancellation.ThrowIfCancellationRequested();
        foreach (var step in solver.Solve(context))
        {
            cancellation.ThrowIfCancellationRequested();
            yield return step;
        }
    }

    /// <summary>y [1, ..] repeated for every sample, [count, ..], a tensor of its own (the expanded view in between is freed); a y with one row per sample is copied as it is.</summary>
    static Tensor? Repeated(Tensor? y, long count)
    {
        if (y is null) return null;
        if (y.shape[0] != 1 && y.shape[0] != count)
            throw new ArgumentException($"y has {y.shape[0]} rows for {count} samples: give one row, or one per sample", nameof(y));
        using var scope = NewDisposeScope();
        return y.expand([count, .. y.shape[1..]]).contiguous().MoveToOuterDisposeScope();
    }
}
