namespace DiffusionLab.Web.Services;

/// <summary>
/// One solver step as the browser receives it over the hub (MessagePack): two small lossless
/// images and the step's metrics. Property names are the wire names the JS player reads.
/// </summary>
public sealed class RunFrame
{
    public int Step { get; init; }
    public int Total { get; init; }
    public int Timestep { get; init; }
    public string Mime { get; init; } = "image/png";
    public byte[] Xt { get; init; } = [];
    public byte[] X0Hat { get; init; } = [];
    public double Residual { get; init; }
    public double Psnr { get; init; }
    public double Ssim { get; init; }
    public double ElapsedMs { get; init; }
    public bool IsFinal { get; init; }
}

/// <summary>One point of the charts: the metrics of one step.</summary>
public readonly record struct MetricPoint(int Step, double Residual, double Psnr, double Ssim, double ElapsedSeconds);

public enum RunStatus { Queued, Preparing, Running, Finished, Cancelled, Failed }

/// <summary>Where the time of a run went, for the README's figures.</summary>
public sealed record RunTimings(
    TimeSpan QueueWait,
    TimeSpan? FirstFrameAfterStart,
    TimeSpan Total,
    TimeSpan Encoding,
    TimeSpan Publishing,
    int FramesProduced)
{
    /// <summary>Share of the run's time spent turning steps into frames and handing them to subscribers.</summary>
    public double FramingFraction => Total > TimeSpan.Zero ? (Encoding + Publishing) / Total : 0;
}

/// <summary>What the hub answers when asked to start a run.</summary>
public sealed class StartRunReply
{
    public string? RunId { get; init; }
    public int QueuePosition { get; init; }
    public Dictionary<string, string> Problems { get; init; } = new();
}
