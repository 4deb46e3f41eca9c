
namespace DiffusionLab.Web.Runs;

/// <summary>
/// Saves every run that finishes into the <see cref="IRunStore"/>, on the run's own thread right
/// after its last frame (one transaction, a few milliseconds). A store that cannot write (disk
/// full, file locked) is logged, never passed on to the run or its viewers.
/// </summary>
public sealed class RunArchive(ILiveRuns runs, IRunStore store, ILogger<RunArchive> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        runs.RunEnded += Save;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        runs.RunEnded -= Save;
        return Task.CompletedTask;
    }

    void Save(LabRun run)
    {
        if (run.Status != RunStatus.Finished) return;
        try
        {
            store.Save(ToSaved(run));
        }
        catch (Exception e)
        {
            logger.LogError(e, "Could not save run {RunId}", run.Id);
        }
    }

    public static SavedRun ToSaved(LabRun run)
    {
        var timings = run.Timings();
        return new SavedRun(run.Id, run.Spec.ToQueryString(), run.Spec.Solver, run.Status.ToString(), run.Error, DateTimeOffset.UtcNow,
            new SavedTimings(timings.QueueWait.TotalMilliseconds, timings.FirstFrameAfterStart?.TotalMilliseconds, timings.Total.TotalMilliseconds, timings.FramesProduced),
            run.MetricsSnapshot(), run.KeyframesSnapshot(), run.GroundTruthPng, run.MeasurementPng, run.Owner);
    }
}
