using DiffusionLab.Web.Runs;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>Where saving a finished run or batch stands, in the words its page shows (saving happens after it ends, off the page: <see cref="RunArchive"/>).</summary>
public static class SaveNotes
{
    /// <param name="what">What was finished, as the page calls it ("run", "batch").</param>
    /// <returns>The note, or null while nothing is to be saved.</returns>
    public static string? Text(SaveState state, string? problem, string what) => state switch
    {
        SaveState.Waiting => "Saving it under Saved runs…",
        SaveState.Retrying => $"Not saved yet: {problem}. Trying again…",
        SaveState.Saved => "Saved under Saved runs.",
        SaveState.Failed => $"This {what} could not be saved: {problem}. It stays on this page for now, but it will not be listed under Saved runs.",
        _ => null,
    };
}
