using DiffusionLab.Engine.Benchmarks;

namespace DiffusionLab.Web.Features.Results;

/// <summary>
/// The results tables the evaluate verb wrote: every PRIOR/results.json under one folder (by default
/// models/results, where the verb writes; Lab:ResultsFolder in appsettings.json changes it), newest first.
/// Read on every visit, so a table written while the server runs shows at the next page load. A file
/// that is missing or unreadable is simply not shown.
/// </summary>
public sealed class ResultsTables(string folder)
{
    public string Folder { get; } = folder;

    public IReadOnlyList<EvaluationTable> Latest()
    {
        if (!Directory.Exists(Folder)) return [];
        return Directory.EnumerateDirectories(Folder)
            .Select(d => EvaluationResults.ReadTable(Path.Combine(d, EvaluationResults.TableFile)))
            .OfType<EvaluationTable>()
            .Where(t => t.Cells is { Count: > 0 })
            .OrderByDescending(t => t.Finished)
            .ToArray();
    }
}
