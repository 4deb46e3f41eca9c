using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Uploads;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// The measurement a compare or diversity page starts from: the spec in its link (as the lab's
/// "Copy link" writes it), or the lab's default prior with its first image.
/// </summary>
public static class ClassroomSpec
{
    /// <summary>Keys of these pages' own (the solvers to compare, the number of seeds, the lesson they were opened for), not part of a spec.</summary>
    public static readonly IReadOnlyCollection<string> PageKeys = ["solvers", "n", Learn.Lesson.QueryKey];

    /// <summary>
    /// The spec in the link, read as the lab reads its links (<see cref="SpecLink"/>): what the lab
    /// lacks is replaced and what is out of range clamped, each with a note, and a link that cannot
    /// be read at all gives the default measurement and says why. An uploaded image is kept only for
    /// the browser that uploaded it (<paramref name="owner"/>); others get a gallery image. The
    /// pages' own keys come back in <see cref="SpecLinkResult.PageValues"/>.
    /// </summary>
    public static SpecLinkResult Read(string? query, LabCatalog catalog, IUploadStore? uploads = null, string? owner = null) =>
        SpecLink.Read(query, catalog, uploads?.AvailableTo(owner), PageKeys);

    /// <summary>The base spec with another solver at its own defaults and default step count (capped by <paramref name="steps"/> when given).</summary>
    public static ExperimentSpec WithSolver(ExperimentSpec spec, Engine.Methods.SolverDescriptor solver, int? steps = null) =>
        spec with
        {
            Solver = solver.Id,
            SolverParameters = spec.Solver == solver.Id ? spec.SolverParameters : ExperimentSpec.Default.SolverParameters,
            Steps = Math.Clamp(steps ?? solver.DefaultSteps, 1, solver.MaxSteps),
        };

    /// <summary>A page's address: the spec's query with the page's own keys after it (<see cref="PageKeys"/>).</summary>
    public static string PageQuery(ExperimentSpec spec, params (string Key, string Value)[] pageValues) =>
        string.Join("&", new[] { spec.ToQueryString() }.Concat(pageValues.Where(p => p.Value.Length > 0)
            .Select(p => Uri.EscapeDataString(p.Key) + "=" + Uri.EscapeDataString(p.Value))));

    public static string DataUrl(byte[]? bytes, string mime = "image/png") =>
        bytes is { Length: > 0 } ? $"data:{mime};base64,{Convert.ToBase64String(bytes)}" : "";
}
