using DiffusionLab.Engine.Runs;
using System.Diagnostics;
using System.Threading.Channels;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// One run as the web sees it: its spec, status, queue position, the metrics so far, the
/// keyframes for the scrubber, and the frame subscribers.
/// </summary>
/// <remarks>
/// Every step is a <see cref="StepRecord"/> here, as it came from the run core: the metric series
/// keeps each step's numbers, the keyframes and the latest frame keep their PNGs, and the hubs map
/// them to the wire with <see cref="RunFrame.From"/>.
/// The solver's thread only copies each step out of libtorch and offers it here; an encoder
/// task turns the newest offered step (and every keyframe) into PNG frames on another thread,
/// so encoding never slows the solver and steps nobody will see are never encoded. Each
/// subscriber gets frames through a one-slot channel that drops the older frame (latest wins):
/// a slow browser gets fewer frames, nothing queues without bound, and the final step, the
/// last one written, always arrives. Frames reach a subscriber in increasing step order.
/// </remarks>
public sealed class LabRun
{
    readonly object gate = new();
    readonly List<Channel<StepRecord>> subscribers = [];
    readonly List<StepRecord> metrics = [];
    readonly List<StepRecord> keyframes = [];
    readonly Queue<StepRecord> keyframesToEncode = new();
    readonly SemaphoreSlim encodeSignal = new(0);
    readonly Stopwatch sinceCreated = Stopwatch.StartNew();
    StepRecord? newest;
    RunStatus? endStatus;
    Task? encoder;
    TimeSpan? queueWait, firstFrame, finishedAfter;
    TimeSpan handoff, encoding, publishing;
    int framesProduced, framesEncoded;

    internal LabRun(string id, ExperimentSpec spec)
    {
        Id = id;
        Spec = spec;
    }

    public string Id { get; }
    public ExperimentSpec Spec { get; }

    /// <summary>The spec as checked when the run was queued (defaults filled in, catalog entries found), so it is not checked again.</summary>
    internal RunPlan? Plan { get; init; }

    /// <summary>
    /// A secret only the starter of the run knows. A hub connection that presents it owns the
    /// run: it may stop it, and the run stops when that connection closes (a closed tab). The
    /// run id alone, which watchers have, gives neither.
    /// </summary>
    public string OwnerKey { get; } = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>Who asked for the run, for the scheduler's per-client share of batched network calls.</summary>
    public string Client { get; init; } = "";
    /// <summary>Whose share of the lab it counts against and whose turn it waits for (the owner, or the client when there is none).</summary>
    internal string Browser { get; init; } = "";
    /// <summary>The browser that started it (<see cref="BrowserIdentity"/>): the only one that may delete it once saved.</summary>
    public string? Owner { get; init; }

    public RunStatus Status { get; private set; } = RunStatus.Queued;
    public int QueuePosition { get; private set; }
    public string? Error { get; private set; }
    public byte[]? GroundTruthPng { get; private set; }
    public byte[]? MeasurementPng { get; private set; }
    /// <summary>x0, y's picture and the naive estimate with its metrics, once the run is prepared.</summary>
    public ProblemPictures? Problem { get; private set; }

    /// <summary>Where saving the finished run stands (<see cref="RunArchive"/>); <see cref="SaveState.None"/> for runs that are not saved.</summary>
    public SaveState Saving { get; private set; }

    /// <summary>Why the last try to save failed, in words, while the archive retries or once it has given up.</summary>
    public string? SaveProblem { get; private set; }

    internal void ReportSave(SaveState state, string? problem = null)
    {
        lock (gate)
        {
            Saving = state;
            SaveProblem = problem;
        }
        Changed?.Invoke(this);
    }

    /// <summary>The newest encoded step (after the run: its final step, or the last step before a stop).</summary>
    public StepRecord? Latest { get; private set; }

    /// <summary>True once the run has ended and every frame it will ever have is encoded and sent.</summary>
    public bool IsOver => Status is RunStatus.Finished or RunStatus.Cancelled or RunStatus.Failed;

    internal CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Raised (on a worker thread) whenever status, metrics or the latest frame change.</summary>
    public event Action<LabRun>? Changed;

    /// <summary>Every step so far, numbers only (the charts' series).</summary>
    public IReadOnlyList<StepRecord> MetricsSnapshot()
    {
        lock (gate) return metrics.ToArray();
    }

    /// <summary>The keyframes so far, oldest first, their images as PNG.</summary>
    public IReadOnlyList<StepRecord> KeyframesSnapshot()
    {
        lock (gate) return keyframes.ToArray();
    }

    public RunTimings Timings()
    {
        lock (gate)
            return new RunTimings(queueWait ?? TimeSpan.Zero, firstFrame, finishedAfter ?? sinceCreated.Elapsed - (queueWait ?? TimeSpan.Zero),
                handoff, encoding, publishing, framesProduced, framesEncoded);
    }

    /// <summary>
    /// Frames from now on, starting with the latest one so far; completes when the run is over
    /// or <paramref name="cancellation"/> fires (the connection closed).
    /// </summary>
    public ChannelReader<StepRecord> Subscribe(CancellationToken cancellation)
    {
        var channel = Channel.CreateBounded<StepRecord>(new BoundedChannelOptions(1)
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
        lock (gate)
        {
            queueWait = sinceCreated.Elapsed;
            encoder = Task.Run(EncodeLoopAsync);
        }
        QueuePosition = 0;
        SetStatus(RunStatus.Preparing);
    }

    internal void SetImages(ProblemPictures problem)
    {
        Problem = problem;
        GroundTruthPng = problem.GroundTruthPng;
        MeasurementPng = problem.MeasurementPng;
        SetStatus(RunStatus.Running);
    }

    /// <summary>Called on the solver's thread: records the step's metrics and leaves its images for the encoder.</summary>
    internal void Offer(StepRecord frame, bool isKeyframe)
    {
        var clock = Stopwatch.StartNew();
        lock (gate)
        {
            firstFrame ??= sinceCreated.Elapsed - (queueWait ?? TimeSpan.Zero);
            metrics.Add(frame.WithoutImages());
            if (isKeyframe) keyframesToEncode.Enqueue(frame);
            newest = frame;
            framesProduced++;
        }
        encodeSignal.Release();
        Changed?.Invoke(this);
        lock (gate) handoff += clock.Elapsed;
    }

    /// <summary>The solver has stopped; the run is over once the encoder has sent what is left.</summary>
    internal void Finish(RunStatus status, string? error = null)
    {
        Task? running;
        lock (gate)
        {
            endStatus = status;
            Error = error;
            running = encoder;
        }
        if (running is null) Complete();
        else encodeSignal.Release();
    }

    async Task EncodeLoopAsync()
    {
        var lastSentStep = -1;
        while (true)
        {
            await encodeSignal.WaitAsync().ConfigureAwait(false);
            while (NextToEncode(lastSentStep) is var (raw, isKeyframe) && raw is not null)
            {
                var clock = Stopwatch.StartNew();
                var frame = raw.Encoded(); // the PNGs, made here on the encoder's task; the pixels are let go
                var encoded = clock.Elapsed;
                lock (gate)
                {
                    if (isKeyframe) keyframes.Add(frame);
                    if (frame.Step > lastSentStep)
                    {
                        lastSentStep = frame.Step;
                        Latest = frame;
                        foreach (var subscriber in subscribers) subscriber.Writer.TryWrite(frame);
                    }
                    encoding += encoded;
                    publishing += clock.Elapsed - encoded;
                    framesEncoded++;
                }
                Changed?.Invoke(this);
            }
            bool done;
            lock (gate) done = endStatus is not null && keyframesToEncode.Count == 0 && (newest is null || newest.Step <= lastSentStep);
            if (done)
            {
                Complete();
                return;
            }
        }
    }

    /// <summary>Keyframes first, in order; then the newest step if nothing newer has been sent.</summary>
    (StepRecord? Raw, bool IsKeyframe) NextToEncode(int lastSentStep)
    {
        lock (gate)
        {
            if (keyframesToEncode.TryDequeue(out var keyframe)) return (keyframe, true);
            if (newest is { } latest && latest.Step > lastSentStep)
            {
                newest = null;
                return (latest, false);
            }
            return (null, false);
        }
    }

    void Complete()
    {
        lock (gate)
        {
            finishedAfter = sinceCreated.Elapsed - (queueWait ?? sinceCreated.Elapsed);
            Status = endStatus ?? RunStatus.Finished;
        }
        // Before the frame streams close and the pages hear of it: whoever saves the run has it on
        // disk by the time anyone is told it finished (RunArchive), so a server killed then keeps it.
        Ended?.Invoke(this);
        lock (gate)
        {
            foreach (var subscriber in subscribers) subscriber.Writer.TryComplete();
            subscribers.Clear();
        }
        Changed?.Invoke(this);
    }

    /// <summary>Raised once, after the last frame has been encoded and the status is final, before the frame streams complete.</summary>
    public event Action<LabRun>? Ended;

    void SetStatus(RunStatus status)
    {
        Status = status;
        Changed?.Invoke(this);
    }
}

/// <summary>Where saving a finished run stands: it is saved off the run's thread, and a store that is locked or full is retried.</summary>
public enum SaveState
{
    /// <summary>Not to be saved (the run was stopped or failed), or not over yet.</summary>
    None,
    /// <summary>Waiting for the background writer.</summary>
    Waiting,
    /// <summary>A try failed (the store is locked or cannot write); the writer tries again.</summary>
    Retrying,
    Saved,
    /// <summary>Every try failed, or the writer's queue was full: the run is not under Saved runs.</summary>
    Failed,
}
