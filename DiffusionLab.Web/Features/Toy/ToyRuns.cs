using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Toy;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// The 2-D lab's server side: exact pictures of a prior (densities, score arrows, diffused
/// particles) and paced runs whose steps stream to one browser. A run computes on its own thread
/// (a solver step is synchronous CPU work), at most <see cref="MaxConcurrentRuns"/> at once (a run
/// waiting for its turn holds no thread, and counts against its browser's share), and
/// waits between steps so that a student sees the particles travel (a whole run takes a few
/// seconds, whatever the solver's step count). Frames reach the browser through a one-slot
/// channel that keeps the newest (latest wins); the final frame is written last, so it always arrives.
/// </summary>
public sealed class ToyRuns(Runs.BrowserShares shares, ILogger<ToyRuns> logger)
{
    public const int MaxConcurrentRuns = 2;

    /// <summary>A run is paced to last about this long, each step between the two bounds below.</summary>
    public static readonly TimeSpan TargetDuration = TimeSpan.FromSeconds(4);
    static readonly TimeSpan MinInterval = TimeSpan.FromMilliseconds(16), MaxInterval = TimeSpan.FromMilliseconds(120);

    readonly SemaphoreSlim slots = new(MaxConcurrentRuns);
    int active;

    /// <summary>Runs whose thread has not ended yet (waiting for a slot or computing).</summary>
    public int ActiveCount => Volatile.Read(ref active);

    /// <summary>When false (tests), steps follow each other as fast as they compute.</summary>
    public bool Paced { get; set; } = true;

    public ToyScene Scene(string specJson, double t)
    {
        var (spec, problems) = ToySpec.Parse(specJson);
        if (spec is null) return new ToyScene { Problems = problems.Select(p => p.Message).ToArray() };
        using var prior = spec.CreatePrior();
        double extent = PlanePictures.ViewExtent(spec.Components);
        var grid = PlanePictures.Grid(extent);
        double alphaBar = PlanePictures.AlphaBarAt(prior.Schedule, t);
        byte[] posterior = [];
        using (var exactPosterior = spec.CreatePosterior(prior))
            if (exactPosterior is not null) posterior = Bytes(PlanePictures.PosteriorDensity(exactPosterior, grid));
        var (data, noise) = PlanePictures.ForwardParticles(prior, spec.Particles, spec.Seed + 5);
        return new ToyScene
        {
            Extent = extent,
            Resolution = grid.Columns,
            Density = Bytes(PlanePictures.MarginalDensity(prior, grid, alphaBar)),
            Posterior = posterior,
            Arrows = Bytes(PlanePictures.ScoreArrows(prior, extent, alphaBar)),
            Data = Bytes(data),
            Noise = Bytes(noise),
            AlphaBars = prior.Schedule.AlphasCumprod,
            T = t,
        };
    }

    public ToyMarginal Marginal(string specJson, double t)
    {
        var (spec, problems) = ToySpec.Parse(specJson);
        if (spec is null) throw new ArgumentException(string.Join(" ", problems.Select(p => p.Message)));
        using var prior = spec.CreatePrior();
        double extent = PlanePictures.ViewExtent(spec.Components);
        double alphaBar = PlanePictures.AlphaBarAt(prior.Schedule, t);
        return new ToyMarginal
        {
            T = t,
            Density = Bytes(PlanePictures.MarginalDensity(prior, PlanePictures.Grid(extent), alphaBar)),
            Arrows = Bytes(PlanePictures.ScoreArrows(prior, extent, alphaBar)),
        };
    }

    /// <summary>
    /// Starts a validated run for <paramref name="browser"/>; its frames end when it finishes, fails (a
    /// frame with Error) or <paramref name="cancellation"/> fires. Null, with the reason, when the
    /// browser already has its share of work going.
    /// </summary>
    public (ChannelReader<ToyRunFrame>? Frames, string Refusal) Start(ToySpec spec, string browser, CancellationToken cancellation)
    {
        var share = shares.TryTake(browser, out var refusal);
        if (share is null) return (null, refusal);
        var channel = Channel.CreateBounded<ToyRunFrame>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = true,
        });
        Interlocked.Increment(ref active);
        _ = RunAsync(spec, channel.Writer, share, cancellation);
        return (channel.Reader, "");
    }

    /// <summary>Waits for a slot without a thread, then computes on a thread of its own.</summary>
    async Task RunAsync(ToySpec spec, ChannelWriter<ToyRunFrame> writer, IDisposable share, CancellationToken cancellation)
    {
        var holdsSlot = false;
        try
        {
            await slots.WaitAsync(cancellation).ConfigureAwait(false);
            holdsSlot = true;
            await Task.Factory.StartNew(() => Execute(spec, writer, cancellation), cancellation,
                TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (OperationCanceledException) { }
        finally
        {
            if (holdsSlot) slots.Release();
            writer.TryComplete();
            share.Dispose();
            Interlocked.Decrement(ref active);
        }
    }

    void Execute(ToySpec spec, ChannelWriter<ToyRunFrame> writer, CancellationToken cancellation)
    {
        try
        {
            using var prepared = ToyRunner.Prepare(spec);
            double distance = double.NaN;
            double priorFloor = prepared.PriorFloor ?? double.NaN;
            var clock = Stopwatch.StartNew();
            TimeSpan interval = TimeSpan.Zero;
            foreach (var frame in ToyRunner.Run(prepared, cancellation))
            {
                if (interval == TimeSpan.Zero)
                    interval = Paced ? Clamp(TargetDuration / Math.Max(1, frame.Total)) : TimeSpan.FromTicks(1);
                distance = frame.Distance ?? distance;
                writer.TryWrite(new ToyRunFrame
                {
                    Step = frame.Step,
                    Total = frame.Total,
                    T = frame.T,
                    Positions = Bytes(frame.Positions),
                    Weights = frame.Weights is null ? [] : Bytes(frame.Weights),
                    Ess = frame.Ess ?? double.NaN,
                    Distance = distance,
                    DistanceIsNew = frame.Distance is not null,
                    ExactFloor = prepared.ExactFloor,
                    PriorFloor = priorFloor,
                    IntervalMs = interval.TotalMilliseconds,
                    IsFinal = frame.IsFinal,
                });
                if (Paced && !frame.IsFinal)
                {
                    var wait = interval - clock.Elapsed;
                    if (wait > TimeSpan.Zero && cancellation.WaitHandle.WaitOne(wait)) break;
                    clock.Restart();
                }
            }
        }
        catch (OperationCanceledException) { }
        catch (SolverException e)
        {
            writer.TryWrite(new ToyRunFrame { Error = e.Message, IsFinal = true });
        }
        catch (Exception e)
        {
            logger.LogError(e, "A 2-D run failed");
            writer.TryWrite(new ToyRunFrame { Error = $"The run stopped with an internal error ({e.GetType().Name}: {e.Message}).", IsFinal = true });
        }
    }

    static TimeSpan Clamp(TimeSpan value) => value < MinInterval ? MinInterval : value > MaxInterval ? MaxInterval : value;

    /// <summary>float32 values as little-endian bytes (the browser reads them as a Float32Array).</summary>
    public static byte[] Bytes(float[] values) => MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
}
