using System.Diagnostics;
using System.Threading.Channels;
using DiffusionLab.Engine.Experiments;

namespace DiffusionLab.Web.Services;

/// <summary>
/// One run as the web sees it: its spec, status, queue position, the metrics so far, the
/// keyframes for the scrubber, and the frame subscribers. Frames go to each subscriber through
/// a one-slot channel that drops the older frame (latest wins): a slow browser gets fewer
/// frames, nothing queues without bound, and since the final frame is the last one written it
/// always arrives. Thread-safe: the run thread writes, pages and hub connections read.
/// </summary>
public sealed class LabRun
{
    readonly object gate = new();
    readonly List<Channel<RunFrame>> subscribers = [];
    readonly List<MetricPoint> metrics = [];
    readonly List<RunFrame> keyframes = [];
    readonly Stopwatch sinceCreated = Stopwatch.StartNew();
    TimeSpan? queueWait, firstFrame, finishedAfter;
    TimeSpan encoding, publishing;
    int framesProduced;

    internal LabRun(string id, ExperimentSpec spec, string? ownerConnectionId)
    {
        Id = id;
        Spec = spec;
        OwnerConnectionId = ownerConnectionId;
    }

    public string Id { get; }
    public ExperimentSpec Spec { get; }

    /// <summary>The hub connection that started the run (null when a lab page did): only it may stop the run over the hub.</summary>
    public string? OwnerConnectionId { get; }

    /// <summary>Who asked for the run, for the scheduler's per-client share of batched network calls.</summary>
    public string Client { get; init; } = "";

    public RunStatus Status { get; private set; } = RunStatus.Queued;
    public int QueuePosition { get; private set; }
    public string? Error { get; private set; }
    public byte[]? GroundTruthPng { get; private set; }
    public byte[]? MeasurementPng { get; private set; }
    public RunFrame? Latest { get; private set; }
    public bool IsOver => Status is RunStatus.Finished or RunStatus.Cancelled or RunStatus.Failed;

    internal CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Raised (on the run's thread) whenever status, metrics or the latest frame change.</summary>
    public event Action<LabRun>? Changed;

    public IReadOnlyList<MetricPoint> MetricsSnapshot()
    {
        lock (gate) return [.. metrics];
    }

    public IReadOnlyList<RunFrame> KeyframesSnapshot()
    {
        lock (gate) return [.. keyframes];
    }

    public RunTimings Timings()
    {
        lock (gate)
            return new RunTimings(queueWait ?? TimeSpan.Zero, firstFrame, finishedAfter ?? sinceCreated.Elapsed,
                encoding, publishing, framesProduced);
    }

    /// <summary>
    /// Frames from now on, starting with the latest one so far; completes when the run is over
    /// or <paramref name="cancellation"/> fires (the connection closed).
    /// </summary>
    public ChannelReader<RunFrame> Subscribe(CancellationToken cancellation)
    {
        var channel = Channel.CreateBounded<RunFrame>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        });
        lock (gate)
        {
            if (Latest is not null) channel.Writer.TryWrite(Latest);
            if (IsOver) channel.Writer.TryComplete();
            else subscribers.Add(channel);
        }
        cancellation.Register(() =>
        {
            lock (gate) subscribers.Remove(channel);
            channel.Writer.TryComplete();
        });
        return channel.Reader;
    }

    internal void SetQueuePosition(int position)
    {
        if (QueuePosition == position) return;
        QueuePosition = position;
        Changed?.Invoke(this);
    }

    internal void MarkStarted()
    {
        lock (gate) queueWait = sinceCreated.Elapsed;
        QueuePosition = 0;
        SetStatus(RunStatus.Preparing);
    }

    internal void SetImages(byte[] groundTruthPng, byte[] measurementPng)
    {
        GroundTruthPng = groundTruthPng;
        MeasurementPng = measurementPng;
        SetStatus(RunStatus.Running);
    }

    internal void Publish(RunFrame frame, MetricPoint point, bool isKeyframe, TimeSpan encodingTime)
    {
        var clock = Stopwatch.StartNew();
        lock (gate)
        {
            firstFrame ??= sinceCreated.Elapsed - (queueWait ?? TimeSpan.Zero);
            metrics.Add(point);
            if (isKeyframe) keyframes.Add(frame);
            Latest = frame;
            foreach (var subscriber in subscribers) subscriber.Writer.TryWrite(frame);
            encoding += encodingTime;
            framesProduced++;
        }
        Changed?.Invoke(this);
        lock (gate) publishing += clock.Elapsed;
    }

    internal void Finish(RunStatus status, string? error = null)
    {
        lock (gate)
        {
            finishedAfter = sinceCreated.Elapsed - (queueWait ?? sinceCreated.Elapsed);
            Status = status;
            Error = error;
            foreach (var subscriber in subscribers) subscriber.Writer.TryComplete();
            subscribers.Clear();
        }
        Changed?.Invoke(this);
    }

    void SetStatus(RunStatus status)
    {
        Status = status;
        Changed?.Invoke(this);
    }
}
