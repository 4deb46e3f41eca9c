namespace DiffusionLab.Web;

/// <summary>Settings of the lab (section "Lab" of appsettings.json).</summary>
public sealed class LabOptions
{
    /// <summary>Runs computed at once; more wait in a queue whose position the page shows.</summary>
    public int MaxConcurrentRuns { get; set; } = 2;

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
