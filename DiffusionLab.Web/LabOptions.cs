namespace DiffusionLab.Web;

/// <summary>Settings of the lab (section "Lab" of appsettings.json).</summary>
public sealed class LabOptions
{
    /// <summary>Runs computed at once whose steps are not batched (classical solvers, or no scheduler); more wait in a queue whose position the page shows.</summary>
    public int MaxConcurrentRuns { get; set; } = 2;

    /// <summary>
    /// Runs computed at once whose network calls the scheduler batches with other runs' on the same
    /// prior: a batched step for many samples costs little more than one, so a class can all run at
    /// once and share the cores instead of queueing behind a few. Room for a class of 30 with some to
    /// spare; the scheduler splits what exceeds one batch (Scheduler:MaxBatch) into more calls.
    /// </summary>
    public int MaxBatchedRuns { get; set; } = 48;

    /// <summary>Work one browser may have running or waiting at once, lab, compare, diversity and 2-D lab together.</summary>
    public int MaxRunsPerBrowser { get; set; } = 6;

    /// <summary>Diversity batches computed at once (their samples are batched with every other run's); more wait their turn.</summary>
    public int MaxDiversityBatches { get; set; } = 4;

    /// <summary>
    /// How long a page's work outlives a lost connection to its circuit (Blazor reconnects after a
    /// short network blip); a closed tab ends its circuit, and its work, at once.
    /// </summary>
    public double CircuitGraceSeconds { get; set; } = 1;

    /// <summary>Runs allowed to wait; beyond this a new run is refused with a message instead of queued.</summary>
    public int MaxQueuedRuns { get; set; } = 32;

    /// <summary>Finished runs kept in memory for the scrubber and the downloads.</summary>
    public int FinishedRunsKept { get; set; } = 50;

    /// <summary>Uploads kept per browser; past it, that browser's own oldest upload goes first.</summary>
    public int UploadsPerBrowser { get; set; } = 20;

    /// <summary>Uploads kept in all (in memory); past it, the browser holding the most gives up its oldest.</summary>
    public int UploadsKept { get; set; } = 400;

    /// <summary>Largest upload accepted, in bytes.</summary>
    public long MaxUploadBytes { get; set; } = 10 * 1024 * 1024;

    /// <summary>Keyframes stored per run for the scrubber and the animated trajectory.</summary>
    public int KeyframesPerRun { get; set; } = 60;
}
