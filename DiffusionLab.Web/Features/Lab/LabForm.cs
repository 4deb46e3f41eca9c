using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using System.Collections.Immutable;

namespace DiffusionLab.Web.Features.Lab;

/// <summary>
/// The lab's controls as one editable value: the form holds the <see cref="ExperimentSpec"/>
/// the controls show (and so the URL), every picker reads it and every change makes a new one
/// (<c>spec with { … }</c>), and it knows the per-task rules of editing (choosing a corruption
/// resets the solver's parameters to what suits that task).
/// </summary>
public sealed class LabForm(LabCatalog catalog)
{
    static readonly ImmutableSortedDictionary<string, double> NoParameters = ImmutableSortedDictionary.Create<string, double>(StringComparer.Ordinal);

    public LabCatalog Catalog { get; } = catalog;

    /// <summary>The run the controls describe.</summary>
    public ExperimentSpec Spec { get; private set; } = ExperimentSpec.Default;

    /// <summary>Problems by field ("corruption.size", "solver.zeta", "steps", "sigmaY", …).</summary>
    public IReadOnlyDictionary<string, string> Errors { get; private set; } = new Dictionary<string, string>();

    /// <summary>Raised after every change, with the field that changed.</summary>
    public event Action<string>? Changed;

    public OperatorDescriptor? CorruptionDescriptor => Catalog.FindOperator(Spec.Corruption);
    public SolverDescriptor? SolverDescriptor => Catalog.FindSolver(Spec.Solver);
    public bool IsUploadedImage => Spec.ImageReference is { Source: ImageSource.Upload };
    public bool HasErrors => Errors.Count > 0;

    public string? ErrorFor(string field) => Errors.TryGetValue(field, out var message) ? message : null;

    /// <summary>
    /// Fills every control from a shared link, read as every page reads links (<see cref="SpecLink"/>):
    /// what this lab lacks is replaced and what is out of range clamped, and the returned notes say so.
    /// </summary>
    /// <param name="hasUpload">Whether an uploaded image in the link may be shown here (it belongs to the browser that uploaded it).</param>
    public IReadOnlyList<string> LoadLink(string? query, Func<ImageReference, bool>? hasUpload = null)
    {
        var link = SpecLink.Read(query, Catalog, hasUpload, Learn.Lessons.PageKeys); // a lesson's link names its lesson beside the spec
        Edit("all", link.Spec);
        return link.Notes;
    }

    /// <summary>Fills every control from a spec in hand, with the same replacements as a link (<see cref="SpecLink.Resolve"/>).</summary>
    public IReadOnlyList<string> Load(ExperimentSpec spec, Func<ImageReference, bool>? hasUpload = null)
    {
        var (resolved, notes) = SpecLink.Resolve(spec, Catalog, hasUpload);
        Edit("all", resolved);
        return notes;
    }

    public void SelectPrior(string id)
    {
        if (id == Spec.Prior) return;
        var next = Spec with { Prior = id, Image = Catalog.Images(id).FirstOrDefault()?.Reference ?? "" };
        // A hole or kernel sized for one image side is the wrong share of another's: those lengths start again at the new prior's defaults.
        if (ImageSide(id) != ImageSide(Spec.Prior) && CorruptionDescriptor is { } op)
            next = WithDefaults(next with { CorruptionParameters = next.CorruptionParameters.RemoveRange(op.Parameters.Where(p => p.ScalesWithImage).Select(p => p.Key)) });
        Edit("prior", next);
    }

    public void SelectImage(string reference) => Edit("image", Spec with { Image = reference });

    public void SelectCorruption(string id)
    {
        if (id == Spec.Corruption) return;
        // The solver's defaults depend on the task, so both sets of parameters start again.
        Edit("corruption", WithDefaults(Spec with { Corruption = id, CorruptionParameters = NoParameters, SolverParameters = NoParameters }));
    }

    public void SelectSolver(string id)
    {
        if (id == Spec.Solver) return;
        var steps = Catalog.FindSolver(id)?.DefaultSteps ?? Spec.Steps;
        Edit("solver", WithDefaults(Spec with { Solver = id, SolverParameters = NoParameters, Steps = steps }));
    }

    public void SetCorruptionValue(string key, double value) =>
        Edit("corruption." + key, Spec with { CorruptionParameters = Spec.CorruptionParameters.SetItem(key, value) });

    public void SetSolverValue(string key, double value) =>
        Edit("solver." + key, Spec with { SolverParameters = Spec.SolverParameters.SetItem(key, value) });

    /// <summary>Any other control: noise, σy, photon scale, steps, seed (<c>form.Edit("seed", s => s with { Seed = 4 })</c>).</summary>
    public void Edit(string field, Func<ExperimentSpec, ExperimentSpec> change) => Edit(field, change(Spec));

    // Lengths in pixels (box, kernel, blur width) default to the same share of the chosen prior's images.
    ExperimentSpec WithDefaults(ExperimentSpec spec) =>
        spec.WithDefaults(Catalog.FindOperator(spec.Corruption), Catalog.FindSolver(spec.Solver), ImageSide(spec.Prior));

    long ImageSide(string priorId) => Catalog.FindPrior(priorId) is { ImageSide: > 0 } prior ? prior.ImageSide : ParameterDefinition.ReferenceImageSide;

    void Edit(string field, ExperimentSpec spec)
    {
        Spec = spec;
        // Checked against this form's catalog, so a message appears the moment a value leaves its bounds.
        var errors = new Dictionary<string, string>();
        foreach (var problem in spec.Validate(Catalog)) errors.TryAdd(problem.Field, problem.Message);
        Errors = errors;
        Changed?.Invoke(field);
    }
}
