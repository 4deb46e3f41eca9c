namespace DiffusionLab.Web.Runs;

/// <summary>Settings of the saved-runs store (section "RunStore" of appsettings.json).</summary>
public sealed class RunStoreOptions
{
    /// <summary>The SQLite file; relative paths are under the app's content root. Empty keeps nothing on disk (an in-memory store).</summary>
    public string Path { get; set; } = "data/runs.db";

    /// <summary>Most runs and diversity batches kept in all; past it, the browser holding the most gives up its oldest.</summary>
    public int MaxRuns { get; set; } = 500;

    /// <summary>Most runs and diversity batches kept per browser; past it, that browser's own oldest go first.</summary>
    public int RunsPerBrowser { get; set; } = 50;

    /// <summary>Most bytes of images and series kept (the file itself adds a few percent of pages and indexes); past it, the browser holding the most bytes gives up its oldest.</summary>
    public long MaxBytes { get; set; } = 200L * 1024 * 1024;

    /// <summary>How long one write waits for a store another program holds locked, in seconds, before that try fails.</summary>
    public int BusyTimeoutSeconds { get; set; } = 5;

    /// <summary>Finished runs and diversity batches waiting to be saved at most (files in the save spool beside the store); past it, a run is reported as not saved.</summary>
    public int SaveQueue { get; set; } = 64;

    /// <summary>Most bytes of finished runs and batches waiting to be saved (the save spool); past it, a run is reported as not saved.</summary>
    public long SpoolBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Tries to save a run before it is reported as not saved.</summary>
    public int SaveAttempts { get; set; } = 5;

    /// <summary>The wait before the second try, in milliseconds; it doubles for each try after that.</summary>
    public int SaveRetryDelayMs { get; set; } = 2000;
}
