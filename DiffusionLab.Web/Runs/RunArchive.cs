using Microsoft.Extensions.Options;
using System.Threading.Channels;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Saves every run that finishes into the <see cref="IRunStore"/>, off the run's thread and off every
/// request: the run's end only puts it in a bounded queue, and one background writer saves the
/// queue in order. A store that is slow or locked by another program (each try waits up to
/// <see cref="RunStoreOptions.BusyTimeoutSeconds"/>) delays saving, never a page or the end of a
/// run. A failed try is retried (<see cref="RunStoreOptions.SaveAttempts"/>, the wait doubling from
/// <see cref="RunStoreOptions.SaveRetryDelayMs"/>); a run whose every try failed, or that found the
/// queue full, is logged and marked <see cref="SaveState.Failed"/> with the reason, which its lab
/// page shows. On a clean shutdown what is still queued gets one more try each.
/// </summary>
public sealed class RunArchive(ILiveRuns runs, IRunStore store, IOptions<RunStoreOptions> options, ILogger<RunArchive> logger) : BackgroundService
{
    readonly RunStoreOptions settings = options.Value;
    readonly Channel<(LabRun Run, SavedRun Saved)> queue = Channel.CreateBounded<(LabRun, SavedRun)>(
        new BoundedChannelOptions(Math.Max(1, options.Value.SaveQueue)) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        runs.RunEnded += Enqueue;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        runs.RunEnded -= Enqueue;
        await base.StopAsync(cancellationToken);
        if (retrying is var (run, saved)) TrySave(run, saved, lastTry: true);
        while (queue.Reader.TryRead(out var left)) TrySave(left.Run, left.Saved, lastTry: true);
    }

    (LabRun Run, SavedRun Saved)? retrying; // the run between tries, when the host stops

    /// <summary>On the run's thread as it ends: a snapshot into the queue, never a wait.</summary>
    void Enqueue(LabRun run)
    {
        if (run.Status != RunStatus.Finished) return;
        run.ReportSave(SaveState.Waiting);
        if (queue.Writer.TryWrite((run, ToSaved(run)))) return;
        logger.LogError("Run {RunId} was not saved: {Count} finished runs are already waiting for the store", run.Id, settings.SaveQueue);
        run.ReportSave(SaveState.Failed, $"the store is behind ({settings.SaveQueue} finished runs are waiting to be saved)");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield(); // the host's start-up does not wait for the first save
        try
        {
            await foreach (var (run, saved) in queue.Reader.ReadAllAsync(stoppingToken))
            {
                var attempts = Math.Max(1, settings.SaveAttempts);
                var delay = TimeSpan.FromMilliseconds(Math.Max(0, settings.SaveRetryDelayMs));
                for (var attempt = 1; !TrySave(run, saved, lastTry: attempt == attempts); attempt++, delay *= 2)
                {
                    retrying = (run, saved);
                    await Task.Delay(delay, stoppingToken);
                    retrying = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    /// <summary>One try; true when there is nothing more to do for this run (saved, or given up).</summary>
    bool TrySave(LabRun run, SavedRun saved, bool lastTry)
    {
        try
        {
            if (store.Save(saved)) run.ReportSave(SaveState.Saved);
            else run.ReportSave(SaveState.Failed, "the run is larger than the whole store may hold (RunStore:MaxBytes)");
            return true;
        }
        catch (Exception e)
        {
            var reason = Reason(e);
            if (!lastTry)
            {
                logger.LogWarning("Could not save run {RunId} ({Reason}); trying again", run.Id, reason);
                run.ReportSave(SaveState.Retrying, reason);
                return false;
            }
            logger.LogError(e, "Could not save run {RunId}; gave up", run.Id);
            run.ReportSave(SaveState.Failed, reason);
            return true;
        }
    }

    /// <summary>What went wrong, in words a student can pass on.</summary>
    static string Reason(Exception e) => e switch
    {
        Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 5 or 6 } => "the store is locked by another program",
        Microsoft.Data.Sqlite.SqliteException { SqliteErrorCode: 13 } => "the disk is full",
        Microsoft.Data.Sqlite.SqliteException sqlite => "the store could not be written (" + sqlite.Message + ")",
        _ => "the store could not be written (" + e.Message + ")",
    };

    public static SavedRun ToSaved(LabRun run)
    {
        var timings = run.Timings();
        return new SavedRun(run.Id, run.Spec.ToQueryString(), run.Spec.Solver, run.Status.ToString(), run.Error, DateTimeOffset.UtcNow,
            new SavedTimings(timings.QueueWait.TotalMilliseconds, timings.FirstFrameAfterStart?.TotalMilliseconds, timings.Total.TotalMilliseconds, timings.FramesProduced),
            run.MetricsSnapshot(), run.KeyframesSnapshot(), run.GroundTruthPng, run.MeasurementPng, run.Owner);
    }
}
