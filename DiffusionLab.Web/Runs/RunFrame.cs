using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// One solver step as the browser receives it over the hub (MessagePack): two small lossless
/// images and the step's metrics. Property names are the wire names the JS player reads; they are
/// the <see cref="StepRecord"/>'s names, and <see cref="From"/> is the only place a step becomes one.
/// </summary>
public sealed class RunFrame
{
    /// <summary>The wire form of a step: its numbers as they are, its images as PNG (empty when the step kept none).</summary>
    public static RunFrame From(StepRecord step) => new()
    {
        Step = step.Step,
        Total = step.Total,
        Timestep = step.Timestep,
        T = step.T,
        Mime = FrameEncoder.Mime,
        Xt = step.Xt?.Png ?? [],
        X0Hat = step.X0Hat?.Png ?? [],
        Residual = step.Residual,
        Psnr = step.Psnr,
        Ssim = step.Ssim,
        ElapsedMs = step.ElapsedMs,
        IsFinal = step.IsFinal,
        NetworkEvaluations = step.NetworkEvaluations,
        Ess = step.Ess,
    };

    public int Step { get; init; }
    public int Total { get; init; }
    public int Timestep { get; init; }
    /// <summary>The diffusion time t ∈ [0, 1] of the step; NaN for classical solvers, which have none.</summary>
    public double T { get; init; } = double.NaN;
    public string Mime { get; init; } = "image/png";
    public byte[] Xt { get; init; } = [];
    public byte[] X0Hat { get; init; } = [];
    public double Residual { get; init; }
    public double Psnr { get; init; }
    public double Ssim { get; init; }
    public double ElapsedMs { get; init; }
    public bool IsFinal { get; init; }
    /// <summary>Network evaluations so far (a backward pass counts as one more).</summary>
    public int NetworkEvaluations { get; init; }
    /// <summary>The effective sample size of a sequential Monte Carlo step's particles; NaN for other solvers.</summary>
    public double Ess { get; init; } = double.NaN;
}

public enum RunStatus { Queued, Preparing, Running, Finished, Cancelled, Failed }

/// <summary>Where the time of a run went, for the figures in docs/performance.md.</summary>
/// <param name="Handoff">Time the solver's thread spent offering steps to the frame pipeline. Copying a step out of libtorch
/// and measuring it happen before, in the run core (<see cref="DiffusionLab.Engine.Runs.Runner"/>), as part of the step.</param>
/// <param name="Encoding">Time the encoder task spent making PNGs (on another thread, alongside the solver).</param>
/// <param name="Publishing">Time the encoder task spent giving frames to subscribers.</param>
public sealed record RunTimings(
    TimeSpan QueueWait,
    TimeSpan? FirstFrameAfterStart,
    TimeSpan Total,
    TimeSpan Handoff,
    TimeSpan Encoding,
    TimeSpan Publishing,
    int FramesProduced,
    int FramesEncoded)
{
    /// <summary>Share of the run's time the solver's thread lost to frames.</summary>
    public double SolverThreadFraction => Total > TimeSpan.Zero ? Handoff / Total : 0;

    /// <summary>Encoding and sending, as a share of the run's time (spent on another thread).</summary>
    public double EncodingFraction => Total > TimeSpan.Zero ? (Encoding + Publishing) / Total : 0;
}

/// <summary>What the hub answers when asked to start a run.</summary>
public sealed class StartRunReply
{
    public string? RunId { get; init; }
    public int QueuePosition { get; init; }
    public Dictionary<string, string> Problems { get; init; } = new();
}
