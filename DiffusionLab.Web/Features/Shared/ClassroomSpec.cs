using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Uploads;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// The measurement a compare or diversity page starts from: the spec in its link (as the lab's
/// "Copy link" writes it), or the lab's default prior with its first image.
/// </summary>
public static class ClassroomSpec
{
    /// <summary>Keys of these pages' own (the solvers to compare, the number of seeds), not part of a spec.</summary>
    static readonly string[] PageKeys = ["solvers", "n"];

    /// <summary>
    /// The spec in the link, with what the lab does not have replaced as the lab page replaces it
    /// (<see cref="LabForm.Load"/>), and notes in plain words for every replacement and for a link
    /// that could not be read at all (then the default measurement is used). An uploaded image is kept
    /// only for the browser that uploaded it (<paramref name="owner"/>); others get a gallery image.
    /// </summary>
    public static (ExperimentSpec Spec, IReadOnlyList<string> Notes) Read(string? query, LabCatalog catalog, UploadedImages? uploads = null, string? owner = null)
    {
        var spec = new ExperimentSpec { Prior = catalog.DefaultPriorId };
        var notes = new List<string>();
        if (!string.IsNullOrWhiteSpace(query))
        {
            var specOnly = string.Join('&', query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries)
                .Where(part => !PageKeys.Contains(part.Split('=')[0], StringComparer.Ordinal)));
            var parsed = ExperimentSpec.Parse(specOnly);
            if (parsed.Spec is { } fromLink) spec = fromLink;
            else notes.Add(string.Join(" ", parsed.Problems.Select(p => p.Message)) + " The default measurement is shown instead.");
        }
        var form = new LabForm(catalog);
        notes.AddRange(form.Load(spec, uploads, owner));
        return (form.ToSpec(), notes);
    }

    /// <summary>The base spec with another solver at its own defaults and default step count (capped by <paramref name="steps"/> when given).</summary>
    public static ExperimentSpec WithSolver(ExperimentSpec spec, Engine.Methods.SolverDescriptor solver, int? steps = null) =>
        spec with
        {
            Solver = solver.Id,
            SolverParameters = spec.Solver == solver.Id ? spec.SolverParameters : ExperimentSpec.Default.SolverParameters,
            Steps = Math.Clamp(steps ?? solver.DefaultSteps, 1, solver.MaxSteps),
        };

    public static string DataUrl(byte[]? bytes, string mime = "image/png") =>
        bytes is { Length: > 0 } ? $"data:{mime};base64,{Convert.ToBase64String(bytes)}" : "";
}
