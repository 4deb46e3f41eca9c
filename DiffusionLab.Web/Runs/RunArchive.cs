using Microsoft.Extensions.Options;
using System.Threading.Channels;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Saves every run that finishes, and every finished diversity batch (<see cref="Keep(SavedDiversity, Action{SaveState, string?})"/>),
/// into the <see cref="IRunStore"/>, off the run's thread and off every request. As a run ends it
/// is written to the <see cref="SaveSpool"/> (one file, before anyone hears it ended), and one
/// background writer saves the spool in order and deletes each file once the store has committed
/// it; a server killed outright meanwhile saves what is left when it starts again. A store that is
/// slow or locked by another program (each try waits up to <see cref="RunStoreOptions.BusyTimeoutSeconds"/>)
/// delays saving, never a page or the end of a run. A failed try is retried
/// (<see cref="RunStoreOptions.SaveAttempts"/>, the wait doubling from <see cref="RunStoreOptions.SaveRetryDelayMs"/>);
/// an item whose every try failed, or that found the spool full, is logged and marked
/// <see cref="SaveState.Failed"/> with the reason, which its page shows. On a clean shutdown what is
/// still waiting gets one more try each.
/// </summary>
public sealed class RunArchive(ILiveRuns runs, IRunStore store, SaveSpool spool, IOptions<RunStoreOptions> options, ILogger<RunArchive> logger) : BackgroundService
{
    readonly RunStoreOptions settings = options.Value;
    // Unbounded in count only in name: every entry is a spool entry, and the spool is bounded.
    readonly Channel<Waiting> queue = Channel.CreateUnbounded<Waiting>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>An item in the spool, and who to tell how saving it goes (nobody, for one a previous server left).</summary>
    readonly record struct Waiting(SpoolEntry Entry, Action<SaveState, string?>? Report);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        var leftovers = spool.Leftovers();
        if (leftovers.Count > 0)
            logger.LogInformation("Saving {Count} finished runs and batches that the last server left in the save spool {Folder}", leftovers.Count, spool.Folder);
        foreach (var entry in leftovers) queue.Writer.TryWrite(new Waiting(entry, null));
        runs.RunEnded += Enqueue;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        runs.RunEnded -= Enqueue;
        await base.StopAsync(cancellationToken);
        if (retrying is { } item) TrySave(item, lastTry: true);
        while (queue.Reader.TryRead(out var left)) TrySave(left, lastTry: true);
    }

    Waiting? retrying; // the item between tries, when the host stops

    /// <summary>On the run's thread as it ends, before its frame streams close: into the spool, never a wait for the store.</summary>
    void Enqueue(LabRun run)
    {
        if (run.Status != RunStatus.Finished) return;
        var saved = ToSaved(run);
        Add(spool.TryAdd(saved, out var refusal), refusal, "run", saved.Id, run.ReportSave);
    }

    /// <summary>Saves a finished diversity batch the same way as a run: spooled now, in the store soon, <paramref name="report"/> told how it goes.</summary>
    public void Keep(SavedDiversity batch, Action<SaveState, string?> report) =>
        Add(spool.TryAdd(batch, out var refusal), refusal, "diversity batch", batch.Id, report);

    void Add(SpoolEntry? entry, string refusal, string kind, string id, Action<SaveState, string?> report)
    {
        if (entry is null)
        {
            logger.LogError("Finished {Kind} {Id} was not saved: {Refusal}", kind, id, refusal);
            report(SaveState.Failed, refusal);
            return;
        }
        report(SaveState.Waiting, null);
        queue.Writer.TryWrite(new Waiting(entry, report));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield(); // the host's start-up does not wait for the first save
        try
        {
            await foreach (var item in queue.Reader.ReadAllAsync(stoppingToken))
            {
                var attempts = Math.Max(1, settings.SaveAttempts);
                var delay = TimeSpan.FromMilliseconds(Math.Max(0, settings.SaveRetryDelayMs));
                for (var attempt = 1; !TrySave(item, lastTry: attempt == attempts); attempt++, delay *= 2)
                {
                    retrying = item;
                    await Task.Delay(delay, stoppingToken);
                    retrying = null;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    /// <summary>One try; true when there is nothing more to do for this item (saved, or given up).</summary>
    bool TrySave(Waiting item, bool lastTry)
    {
        var (entry, report) = item;
        var payload = spool.Read(entry);
        if (payload is null)
        {
            report?.Invoke(SaveState.Failed, "its copy waiting to be saved could not be read back");
            return true;
        }
        try
        {
            var kept = payload switch
            {
                SavedRun run => store.Save(run),
                SavedDiversity batch => store.Save(batch),
                _ => false,
            };
            spool.Remove(entry);
            if (kept) report?.Invoke(SaveState.Saved, null);
            else report?.Invoke(SaveState.Failed, "it is larger than the whole store may hold (RunStore:MaxBytes)");
            return true;
        }
        catch (Exception e)
        {
            var reason = Reason(e);
            if (!lastTry)
            {
                logger.LogWarning("Could not save {Entry} ({Reason}); trying again", entry.Name, reason);
                report?.Invoke(SaveState.Retrying, reason);
                return false;
            }
            // Its spool file stays: the next start of the lab tries it again.
            logger.LogError(e, "Could not save {Entry}; gave up until the lab starts again", entry.Name);
            report?.Invoke(SaveState.Failed, reason);
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
