namespace DiffusionLab.Web.Runs;

/// <summary>
/// The saved runs and posterior-diversity batches: what the archiver, the diversity service, the
/// replay hub and the saved-runs pages ask of the store. <see cref="RunStore"/> keeps them in
/// SQLite; the lab registers one instance for the whole app.
/// </summary>
/// <remarks>
/// A second implementation (a PostgreSQL store shared by several web instances, say) has to honour
/// what callers rely on:
/// <list type="bullet">
/// <item>A save is atomic: readers see the whole run or batch or nothing, and a crash never leaves
/// half of one. Saving an id that exists replaces it.</item>
/// <item>The caps (<see cref="MaxRuns"/> items, <see cref="MaxBytes"/> payload bytes, runs and
/// batches counted together by <c>PayloadBytes</c>) hold after every save, by evicting the oldest
/// items of either kind in the same transaction; an item larger than the byte cap alone is not
/// kept and the save returns false.</item>
/// <item>Lists are newest first (the order of saving, also across instances) and at most
/// <c>limit</c> long.</item>
/// <item>Deleting checks ownership in the same statement: it removes an item only when
/// <c>owner</c> is a well-formed browser id and is the item's owner, and answers false otherwise,
/// so nobody deletes another browser's run; items without an owner cannot be deleted.</item>
/// <item>Nothing throws for what a visitor types: a null, unknown, overlong or malformed id is
/// simply not found (and every query is parameterised).</item>
/// <item>Keyframes come back in the order they were saved, with every field the live run had.</item>
/// </list>
/// </remarks>
public interface IRunStore
{
    /// <summary>A saved run's last x̂0 (PNG), with its spec and owner for the privacy check; null when there is none.</summary>
    (byte[] Png, string SpecQuery, string? Owner)? Thumbnail(string? id) =>
        Get(id) is { Keyframes: [.., { X0Hat: { } last }] } run ? (last.Png, run.SpecQuery, run.Owner) : null;

    /// <summary>Most runs and batches kept in all.</summary>
    int MaxRuns { get; }

    /// <summary>Most payload bytes kept, runs and batches together.</summary>
    long MaxBytes { get; }

    /// <summary>Runs and batches kept per browser: past it, that browser's own oldest go first (a full store takes from the browser holding the most).</summary>
    int RunsPerBrowser { get; }

    /// <summary>Saves a finished run (replacing one with the same id), evicting the oldest items to stay under the caps; false when it alone exceeds the byte cap.</summary>
    bool Save(SavedRun run);

    /// <summary>The saved runs, newest first.</summary>
    IReadOnlyList<SavedRunSummary> List(int limit = 200);

    /// <summary>A saved run with its series and keyframes, or null when no run has this id.</summary>
    SavedRun? Get(string? id);

    /// <summary>Deletes a saved run on behalf of <paramref name="owner"/>; false when that browser made no run with this id.</summary>
    bool Delete(string? id, string? owner);

    /// <summary>Saves a finished diversity batch under the same caps as runs; false when it alone exceeds the byte cap.</summary>
    bool Save(SavedDiversity batch);

    /// <summary>The saved diversity batches, newest first.</summary>
    IReadOnlyList<SavedDiversitySummary> ListDiversity(int limit = 200);

    /// <summary>A saved diversity batch, or null when none has this id.</summary>
    SavedDiversity? GetDiversity(string? id);

    /// <summary>Deletes a saved diversity batch on behalf of <paramref name="owner"/>; false when that browser drew none with this id.</summary>
    bool DeleteDiversity(string? id, string? owner);

    /// <summary>How many runs and diversity batches, and how many payload bytes, the store holds now.</summary>
    (int Runs, long PayloadBytes) Usage();
}
