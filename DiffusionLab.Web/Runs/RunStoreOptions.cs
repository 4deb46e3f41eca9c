namespace DiffusionLab.Web.Runs;

/// <summary>Settings of the saved-runs store (section "RunStore" of appsettings.json).</summary>
public sealed class RunStoreOptions
{
    /// <summary>The SQLite file; relative paths are under the app's content root. Empty keeps nothing on disk (an in-memory store).</summary>
    public string Path { get; set; } = "data/runs.db";

    /// <summary>Most runs kept; the oldest are evicted first.</summary>
    public int MaxRuns { get; set; } = 500;

    /// <summary>Most bytes of images and series kept (the file itself adds a few percent of pages and indexes).</summary>
    public long MaxBytes { get; set; } = 200L * 1024 * 1024;
}
