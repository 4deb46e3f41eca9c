using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Web.Runs;
using Microsoft.Extensions.Options;
using System.Diagnostics;

namespace DiffusionLab.Web.Features.Diversity;

/// <summary>
/// Runs posterior-diversity batches (one y, one solver, N samples) through the run core and the
/// shared scheduler, at most <see cref="LabOptions.MaxDiversityBatches"/> at once, each on its own
/// thread; waiting batches hold no thread and are started browser by browser in turn, and each
/// counts against its browser's share (<see cref="BrowserShares"/>). Sample k is the lab run with
/// sample seed first + k, and the mean and standard-deviation pictures come from the engine, so
/// this class only encodes what it shows. A page holds its <see cref="DiversityJob"/> and redraws
/// when it changes.
/// </summary>
public sealed class DiversityService(Runner runner, RunScheduler scheduler, RunArchive archive, BrowserShares shares,
    IOptions<LabOptions> options, ILogger<DiversityService> logger)
{
    readonly object gate = new();
    readonly FairQueue<DiversityJob> waiting = new();
    readonly int maxRunning = Math.Max(1, options.Value.MaxDiversityBatches);
    readonly HashSet<DiversityJob> going = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<string, int> runningByBrowser = new(StringComparer.Ordinal);
    int running;

    /// <summary>Batches not over yet, waiting or computing.</summary>
    public IReadOnlyList<DiversityJob> Going()
    {
        lock (gate) return going.ToList();
    }

    /// <summary>Queues a batch for <paramref name="owner"/>'s browser, or returns why not (its share is used up).</summary>
    public (DiversityJob? Job, string Refusal) Start(ExperimentSpec spec, int count, string client, string? owner = null)
    {
        var browser = owner ?? client;
        var share = shares.TryTake(browser, out var refusal);
        if (share is null) return (null, refusal);
        var job = new DiversityJob(spec, Math.Clamp(count, 1, PosteriorSamples.MaxSamples)) { Owner = owner, Client = client, Browser = browser };
        job.Ended += () =>
        {
            share.Dispose();
            lock (gate) going.Remove(job);
        };
        // A batch stopped while it waits leaves the line at once.
        job.Cancellation.Token.Register(() =>
        {
            bool removed;
            lock (gate) removed = waiting.Remove(job);
            if (removed) job.End("Cancelled", null);
        });
        lock (gate)
        {
            going.Add(job);
            waiting.Enqueue(browser, job);
        }
        StartWaiting();
        return (job, "");
    }

    /// <summary>Starts waiting batches while there is room, each on a thread of its own.</summary>
    void StartWaiting()
    {
        while (true)
        {
            DiversityJob? next;
            lock (gate)
            {
                if (running >= maxRunning || waiting.TakeNext(inService: b => runningByBrowser.GetValueOrDefault(b)) is not { } taken) return;
                running++;
                runningByBrowser[taken.Browser] = runningByBrowser.GetValueOrDefault(taken.Browser) + 1;
                next = taken;
            }
            new Thread(() => Execute(next, next.Client)) { IsBackground = true, Name = "diversity" }.Start();
        }
    }

    void Execute(DiversityJob job, string client)
    {
        var token = job.Cancellation.Token;
        try
        {
            token.ThrowIfCancellationRequested();
            job.Report(j => j.Status = "Running");
            using var prepared = runner.Prepare(job.Spec);
            var truth = FrameEncoder.Encode(prepared.GroundTruth);
            var measurement = FrameEncoder.Encode(prepared.MeasurementPicture);
            job.Report(j => (j.GroundTruthPng, j.MeasurementPng) = (truth, measurement));
            var lastShown = Stopwatch.StartNew();
            foreach (var step in runner.RunSamples(prepared, job.Count, token, scheduler, client))
            {
                var first = step.First;
                if (!first.IsFinal && lastShown.ElapsedMilliseconds < 200) continue; // the page needs a few frames a second, not every step
                lastShown.Restart();
                var samples = step.Samples.Select(sample => sample.X0Hat!.Png).ToArray();
                var summary = step.Summary;
                var meanPng = summary is null ? null : FrameEncoder.Encode(summary.Mean);
                var stdPng = summary is null ? null : FrameEncoder.Encode(summary.StdPicture);
                job.Report(j =>
                {
                    j.Step = first.Step + 1;
                    j.Total = first.Total;
                    j.SamplePngs = samples;
                    j.Seconds = first.ElapsedMs / 1000;
                    if (summary is not null)
                        (j.MeanPng, j.StdPng, j.StdMax, j.MeanPsnr, j.MeanSsim, j.MeanResidual) =
                            (meanPng, stdPng, summary.StdMax, summary.MeanPsnr, summary.MeanSsim, summary.MeanResidual);
                });
            }
            Keep(job); // spooled before the page hears "Finished": a server killed now still saves it
            job.End("Finished", null);
        }
        catch (OperationCanceledException)
        {
            job.End("Cancelled", null);
        }
        catch (Exception e) when (e is SolverException or SpecException)
        {
            job.End("Failed", e.Message);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Diversity batch failed");
            job.End("Failed", $"The batch stopped with an internal error ({e.GetType().Name}: {e.Message}).");
        }
        finally
        {
            lock (gate)
            {
                running--;
                if (--runningByBrowser[job.Browser] == 0) runningByBrowser.Remove(job.Browser);
            }
            StartWaiting();
        }
    }

    /// <summary>Hands a finished batch to the background writer, as a finished run is; the page follows how saving it goes.</summary>
    void Keep(DiversityJob job)
    {
        SavedDiversity saved;
        lock (job)
            saved = new SavedDiversity(job.Id, job.SpecQuery, job.Spec.Solver, job.Count, DateTimeOffset.UtcNow, job.Seconds,
                job.MeanPsnr, job.MeanSsim, job.MeanResidual, job.StdMax, job.SamplePngs, job.GroundTruthPng, job.MeasurementPng, job.MeanPng, job.StdPng, job.Owner);
        archive.Keep(saved, job.ReportSave);
    }
}

/// <summary>What the diversity page and a saved batch's page both show.</summary>
public interface IDiversityResult
{
    int Count { get; }
    IReadOnlyList<byte[]> SamplePngs { get; }
    byte[]? GroundTruthPng { get; }
    byte[]? MeasurementPng { get; }
    byte[]? MeanPng { get; }
    byte[]? StdPng { get; }
    /// <summary>Largest per-pixel standard deviation (on the [-1, 1] scale); 0 when every sample agrees.</summary>
    double StdMax { get; }
    double MeanPsnr { get; }
    double MeanSsim { get; }
    double MeanResidual { get; }
    double Seconds { get; }
}

/// <summary>A diversity batch as its page sees it. Thread-safe: the batch's thread writes under a lock, the page reads.</summary>
public sealed class DiversityJob(ExperimentSpec spec, int count) : IDiversityResult
{
    public ExperimentSpec Spec { get; } = spec;
    public int Count { get; } = count;
    /// <summary>The id it is saved under when it finishes (/runs/diversity/{Id}).</summary>
    public string Id { get; } = Guid.NewGuid().ToString("N")[..12];
    /// <summary>The diversity page's query for this batch: the same spec, solver and number of samples.</summary>
    public string SpecQuery => $"{Spec.ToQueryString()}&n={Count}";
    /// <summary>The browser that asked for it (<see cref="BrowserIdentity"/>): the only one that may delete it once saved.</summary>
    public string? Owner { get; init; }
    /// <summary>Who asked for it (a page's circuit), for the scheduler's per-client share of batches.</summary>
    internal string Client { get; init; } = "";
    /// <summary>Whose share it counts against and whose turn it waits for (the owner, or the client when there is none).</summary>
    internal string Browser { get; init; } = "";
    /// <summary>True once the finished batch is in the run store.</summary>
    public bool IsSaved => Saving == SaveState.Saved;
    /// <summary>Where saving the finished batch stands (<see cref="RunArchive"/>); <see cref="SaveState.None"/> until it finishes.</summary>
    public SaveState Saving { get; private set; }
    /// <summary>Why the last try to save failed, in words, while the writer retries or once it has given up.</summary>
    public string? SaveProblem { get; private set; }
    public string Status { get; set; } = "Queued";
    public string? Error { get; private set; }
    public int Step { get; set; }
    public int Total { get; set; }
    public IReadOnlyList<byte[]> SamplePngs { get; set; } = [];
    public byte[]? GroundTruthPng { get; set; }
    public byte[]? MeasurementPng { get; set; }
    public byte[]? MeanPng { get; set; }
    public byte[]? StdPng { get; set; }
    public double StdMax { get; set; } = double.NaN;
    public double MeanPsnr { get; set; } = double.NaN;
    public double MeanSsim { get; set; } = double.NaN;
    public double MeanResidual { get; set; } = double.NaN;
    public double Seconds { get; set; }
    public bool IsOver => Status is "Finished" or "Failed" or "Cancelled";

    internal CancellationTokenSource Cancellation { get; } = new();

    public event Action? Changed;

    public void Cancel() => Cancellation.Cancel();

    internal void Report(Action<DiversityJob> update)
    {
        lock (this) update(this);
        Changed?.Invoke();
    }

    internal void ReportSave(SaveState state, string? problem) => Report(j => (j.Saving, j.SaveProblem) = (state, problem));

    /// <summary>Raised once, when the batch is over (finished, failed or cancelled).</summary>
    internal event Action? Ended;

    internal void End(string status, string? error)
    {
        var first = false;
        Report(j =>
        {
            first = !j.IsOver;
            if (first) (j.Status, j.Error) = (status, error);
        });
        if (first) Ended?.Invoke();
    }
}
