using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Uploads;
using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Runs experiments off the request threads: a queue that serves browsers in turn, runs computing
/// at once up to <see cref="LabOptions.MaxBatchedRuns"/> when the scheduler batches their network
/// calls (a batched step for many runs costs little more than one) and up to
/// <see cref="LabOptions.MaxConcurrentRuns"/> otherwise (each on its own thread, since a solver
/// step is synchronous CPU work; a waiting run has no thread), each browser's share capped by
/// <see cref="BrowserShares"/>, queue positions the page can show, and cancellation that takes
/// effect at the next solver step (tens of milliseconds), after which the run's tensors are disposed.
/// </summary>
public sealed class RunService(IOptions<LabOptions> options, IUploadStore uploads, Runner runner, BrowserShares shares, ILogger<RunService> logger, RunScheduler? scheduler = null) : BackgroundService, ILiveRuns
{
    readonly object gate = new();
    readonly FairQueue<LabRun> pending = new();
    readonly HashSet<LabRun> batchedRunning = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<string, int> runningByBrowser = new(StringComparer.Ordinal);
    readonly Dictionary<string, LabRun> runs = new();
    readonly LinkedList<LabRun> finished = new();
    readonly SemaphoreSlim wake = new(0);
    readonly LabOptions settings = options.Value;
    int active;
    double secondsPerStep = double.NaN; // the recent pace of finished runs, for the queue's estimate

    /// <summary>Queues a run, or returns the problems that keep it from starting.</summary>
    /// <param name="client">Who asked (a browser circuit, a hub connection), for the scheduler's per-client share of batches.</param>
    /// <param name="owner">The browser's id (<see cref="BrowserIdentity"/>), kept with the saved run so only that browser can delete it,
    /// and the browser whose share of the lab the run counts against (the client, when there is no owner).</param>
    public (LabRun? Run, IReadOnlyList<SpecProblem> Problems) Start(ExperimentSpec spec, string? client = null, string? owner = null)
    {
        var (plan, checkedProblems) = runner.Check(spec);
        var problems = checkedProblems.ToList();
        if (problems.Count == 0 && spec.ImageReference is { Source: ImageSource.Upload } upload && !uploads.Contains(upload, owner))
            problems.Add(new SpecProblem("image", "That uploaded image is not here for this browser: uploads stay with the browser that made them, for a while, and do not travel in links. Upload it again or pick a gallery image."));
        if (problems.Count > 0) return (null, problems);
        var id = Guid.NewGuid().ToString("N")[..12];
        var browser = owner ?? client ?? id;
        var share = shares.TryTake(browser, out var refusal);
        if (share is null) return (null, [new SpecProblem("run", refusal)]);
        var run = new LabRun(id, spec) { Client = client ?? id, Owner = owner, Browser = browser, Plan = plan };
        run.Ended += ended =>
        {
            share.Dispose();
            RunEnded?.Invoke(ended);
        };
        lock (gate)
        {
            if (pending.Count >= settings.MaxQueuedRuns)
            {
                share.Dispose();
                return (null, [new SpecProblem("run", $"The lab is busy: {pending.Count} runs are already waiting. Try again in a minute.")]);
            }
            runs[run.Id] = run;
            pending.Enqueue(browser, run);
            UpdateQueuePositions();
        }
        wake.Release();
        return (run, []);
    }

    public LabRun? Find(string id)
    {
        lock (gate) return runs.GetValueOrDefault(id);
    }

    /// <summary>Stops a run: a queued one leaves the queue at once, a running one at its next step.</summary>
    public void Stop(string id)
    {
        LabRun? run;
        var wasPending = false;
        lock (gate)
        {
            if (!runs.TryGetValue(id, out run)) return;
            if (pending.Remove(run))
            {
                wasPending = true;
                UpdateQueuePositions();
                Retire(run);
            }
        }
        run.Cancellation.Cancel();
        if (wasPending) run.Finish(RunStatus.Cancelled);
    }

    /// <summary>Raised once per run after it has finished, failed or been cancelled (the run store saves it).</summary>
    public event Action<LabRun>? RunEnded;

    /// <summary>Runs computing right now.</summary>
    public int ActiveCount
    {
        get { lock (gate) return active; }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stoppingToken.Register(CancelEverything);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await wake.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            lock (gate)
            {
                while (pending.TakeNext(HasRoom, Running) is { } run)
                {
                    active++;
                    runningByBrowser[run.Browser] = Running(run.Browser) + 1;
                    if (IsBatched(run)) batchedRunning.Add(run);
                    new Thread(() => Execute(run)) { IsBackground = true, Name = "lab-run-" + run.Id }.Start();
                }
                UpdateQueuePositions();
            }
        }
    }

    /// <summary>
    /// Whether a run's network calls are batched with other runs' (a diffusion solver with the
    /// scheduler there): those share the batched calls, so many can compute at once; a classical
    /// solver's steps are its own arithmetic and take a plain slot.
    /// </summary>
    bool IsBatched(LabRun run) => scheduler is not null && run.Plan?.Solver.Family is not SolverFamily.Classical;

    /// <summary>A browser's runs computing now (called under the lock): the queue serves the browser with the fewest first.</summary>
    int Running(string browser) => runningByBrowser.GetValueOrDefault(browser);

    /// <summary>Whether a waiting run may start now (called under the lock).</summary>
    bool HasRoom(LabRun run) => IsBatched(run)
        ? batchedRunning.Count < Math.Max(1, settings.MaxBatchedRuns)
        : active - batchedRunning.Count < Math.Max(1, settings.MaxConcurrentRuns);

    void Execute(LabRun run)
    {
        var status = RunStatus.Finished;
        string? error = null;
        try
        {
            run.MarkStarted();
            var token = run.Cancellation.Token;
            token.ThrowIfCancellationRequested();
            using var prepared = run.Plan is { } plan ? runner.Prepare(plan) : runner.Prepare(run.Spec);
            run.SetImages(ProblemPictures.From(prepared));
            var keyframeStride = Math.Max(1, (int)Math.Ceiling(run.Spec.Steps / (double)Math.Max(1, settings.KeyframesPerRun)));
            // A step arrives copied out of libtorch and measured by the run core; handing it to the
            // encoder is all the solver's thread does here (Offer times that).
            foreach (var step in runner.Run(prepared, token, scheduler, run.Client))
            {
                token.ThrowIfCancellationRequested();
                run.Offer(step, step.IsFinal || step.Step % keyframeStride == 0);
            }
        }
        catch (OperationCanceledException)
        {
            status = RunStatus.Cancelled;
        }
        catch (SpecException e)
        {
            status = RunStatus.Failed;
            error = e.Message;
        }
        catch (SolverException e)
        {
            status = RunStatus.Failed;
            error = e.Message;
        }
        catch (Exception e)
        {
            logger.LogError(e, "Run {RunId} failed", run.Id);
            status = RunStatus.Failed;
            error = $"The run stopped with an internal error ({e.GetType().Name}: {e.Message}).";
        }
        finally
        {
            lock (gate)
            {
                active--;
                batchedRunning.Remove(run);
                if (Running(run.Browser) <= 1) runningByBrowser.Remove(run.Browser);
                else runningByBrowser[run.Browser]--;
                Retire(run);
            }
            wake.Release();
        }
        run.Finish(status, error);
        if (status == RunStatus.Finished) NotePace(run);
    }

    /// <summary>Keeps the newest finished runs for the scrubber and downloads, forgetting the oldest.</summary>
    void Retire(LabRun run)
    {
        finished.AddLast(run);
        while (finished.Count > Math.Max(1, settings.FinishedRunsKept) && finished.First is { } oldest)
        {
            finished.RemoveFirst();
            runs.Remove(oldest.Value.Id);
        }
    }

    /// <summary>
    /// About how long a queued run waits: the steps of the runs ahead of it and the steps left in
    /// the runs computing, at the recent pace of finished runs, shared over the run slots. Null
    /// before any run has finished here (no pace to go by) or once the run has left the queue.
    /// </summary>
    public TimeSpan? EstimateWait(LabRun queued)
    {
        lock (gate)
        {
            if (!double.IsFinite(secondsPerStep) || queued.Status != RunStatus.Queued) return null;
            double steps = 0;
            foreach (var run in runs.Values.Where(r => r.Status is RunStatus.Running or RunStatus.Preparing))
                steps += Math.Max(0, run.Spec.Steps - (run.Latest?.Step + 1 ?? 0));
            foreach (var run in pending.InServeOrder(Running))
            {
                if (ReferenceEquals(run, queued)) break;
                steps += run.Spec.Steps;
            }
            return TimeSpan.FromSeconds(steps * secondsPerStep / Math.Max(1, settings.MaxConcurrentRuns));
        }
    }

    void NotePace(LabRun run)
    {
        var steps = run.Latest?.Step + 1 ?? 0;
        if (steps < 1) return;
        var pace = run.Timings().Total.TotalSeconds / steps;
        lock (gate) secondsPerStep = double.IsFinite(secondsPerStep) ? 0.7 * secondsPerStep + 0.3 * pace : pace;
    }

    void UpdateQueuePositions()
    {
        var position = 1;
        foreach (var run in pending.InServeOrder(Running)) run.SetQueuePosition(position++);
    }

    void CancelEverything()
    {
        lock (gate)
            foreach (var run in runs.Values) run.Cancellation.Cancel();
    }
}
