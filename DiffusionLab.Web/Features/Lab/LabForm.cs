using System.Collections.Immutable;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Uploads;

namespace DiffusionLab.Web.Features.Lab;

/// <summary>
/// The lab's controls as one editable value: every picker reads and writes it, it turns into
/// an <see cref="ExperimentSpec"/> (and so a URL) and back, and it knows the per-task defaults
/// (choosing a corruption resets the solver's parameters to what suits that task).
/// </summary>
public sealed class LabForm(LabCatalog catalog)
{
    public const string UploadPrefix = "upload:";

    public LabCatalog Catalog { get; } = catalog;
    public string Prior { get; private set; } = "";
    public string Image { get; private set; } = "";
    public string Corruption { get; private set; } = "";
    public Dictionary<string, double> CorruptionValues { get; } = new();
    public string Noise { get; private set; } = "gaussian";
    public double SigmaY { get; private set; }
    /// <summary>Poisson noise's photon scale (photons that full white collects); used when <see cref="Noise"/> is "poisson".</summary>
    public double PoissonRate { get; private set; } = ExperimentSpec.Default.PoissonRate;
    public string Solver { get; private set; } = "";
    public Dictionary<string, double> SolverValues { get; } = new();
    public int Steps { get; private set; }
    public int Seed { get; private set; }

    /// <summary>Problems by field ("corruption.size", "solver.zeta", "steps", "sigmaY", …).</summary>
    public IReadOnlyDictionary<string, string> Errors { get; private set; } = new Dictionary<string, string>();

    /// <summary>Raised after every change, with the field that changed.</summary>
    public event Action<string>? Changed;

    public OperatorDescriptor? CorruptionDescriptor => Catalog.FindOperator(Corruption);
    public SolverDescriptor? SolverDescriptor => Catalog.FindSolver(Solver);
    public bool IsUploadedImage => Image.StartsWith(UploadPrefix, StringComparison.Ordinal);
    public bool HasErrors => Errors.Count > 0;

    public string? ErrorFor(string field) => Errors.TryGetValue(field, out var message) ? message : null;

    /// <summary>
    /// Fills every control from a spec (a shared link); parameters it omits take their defaults.
    /// A prior, image, corruption or solver this lab does not have is replaced by one it has, and
    /// the returned notes say so in plain words, so a mistyped link is not silently changed. An
    /// uploaded image is kept only when <paramref name="uploads"/> holds it for <paramref name="owner"/>
    /// (the browser that uploaded it); otherwise the prior's first image is shown.
    /// </summary>
    public IReadOnlyList<string> Load(ExperimentSpec spec, UploadedImages? uploads = null, string? owner = null)
    {
        var notes = new List<string>();
        Prior = spec.Prior;
        Image = spec.Image;
        Noise = spec.Noise;
        SigmaY = spec.SigmaY;
        PoissonRate = spec.PoissonRate;
        Steps = spec.Steps;
        Seed = spec.Seed;
        Corruption = spec.Corruption;
        // A replaced corruption or solver starts from its own defaults: the link's settings were for another.
        var corruptionReplaced = CorruptionDescriptor is null && Catalog.Operators.Count > 0;
        if (corruptionReplaced)
        {
            Corruption = (Catalog.FindOperator(ExperimentSpec.Default.Corruption) ?? Catalog.Operators[0]).Id;
            notes.Add($"The link asks for a corruption called '{spec.Corruption}', which this lab does not have; {CorruptionDescriptor!.DisplayName} is shown instead.");
        }
        ResetCorruptionValues();
        if (!corruptionReplaced)
            foreach (var (key, value) in spec.CorruptionParameters) CorruptionValues[key] = value;
        Solver = spec.Solver;
        var solverReplaced = SolverDescriptor is null && Catalog.Solvers.Count > 0;
        if (solverReplaced)
        {
            Solver = (Catalog.FindSolver(ExperimentSpec.Default.Solver) ?? Catalog.Solvers[0]).Id;
            Steps = SolverDescriptor!.DefaultSteps;
            notes.Add($"The link asks for a solver called '{spec.Solver}', which this lab does not have; {SolverDescriptor.DisplayName} is shown instead.");
        }
        ResetSolverValues();
        if (!solverReplaced)
            foreach (var (key, value) in spec.SolverParameters) SolverValues[key] = value;
        if (Catalog.FindPrior(Prior) is null && Catalog.Priors.Count > 0)
        {
            // A prior this server lacks (e.g. no trained model yet): fall back, with an image of the fallback's own.
            Prior = Catalog.FindPrior(Catalog.DefaultPriorId)?.Id ?? Catalog.Priors[0].Id;
            Image = "";
            notes.Add($"The link asks for a prior called '{spec.Prior}', which this lab does not have; {Catalog.FindPrior(Prior)!.DisplayName} is shown instead.");
        }
        if (IsUploadedImage && uploads?.Contains(Image, owner) != true)
        {
            Image = "";
            notes.Add("The link uses an uploaded image, which stays with the browser that uploaded it and cannot travel in a link. A gallery image is shown instead; upload your own to use it.");
        }
        // An image this prior does not offer: show the prior's first rather than an empty panel.
        // (The default spec's "gallery:0" stands for "the first image", so it needs no note.)
        var offered = Catalog.OfferedImageOrFirst(Prior, Image);
        if (offered != Image && Image.Length > 0 && Image != ExperimentSpec.Default.Image && offered.Length > 0)
            notes.Add($"The link's image '{Image}' is not among the images offered for {Catalog.FindPrior(Prior)?.DisplayName ?? Prior}; the first of them is shown instead.");
        Image = offered;
        Revalidate("all");
        return notes;
    }

    public ExperimentSpec ToSpec() => ExperimentSpec.Default with
    {
        Prior = Prior,
        Image = Image,
        Corruption = Corruption,
        CorruptionParameters = CorruptionValues.ToImmutableSortedDictionary(StringComparer.Ordinal),
        Noise = Noise,
        SigmaY = SigmaY,
        PoissonRate = PoissonRate,
        Solver = Solver,
        SolverParameters = SolverValues.ToImmutableSortedDictionary(StringComparer.Ordinal),
        Steps = Steps,
        Seed = Seed,
    };

    public void SelectPrior(string id)
    {
        if (id == Prior) return;
        Prior = id;
        Image = Catalog.Images(id).FirstOrDefault()?.Reference ?? "";
        Revalidate("prior");
    }

    public void SelectImage(string id)
    {
        Image = id;
        Revalidate("image");
    }

    public void SelectCorruption(string id)
    {
        if (id == Corruption) return;
        Corruption = id;
        ResetCorruptionValues();
        ResetSolverValues();
        Revalidate("corruption");
    }

    public void SelectSolver(string id)
    {
        if (id == Solver) return;
        Solver = id;
        ResetSolverValues();
        if (SolverDescriptor is { } solver) Steps = solver.DefaultSteps;
        Revalidate("solver");
    }

    public void SetCorruptionValue(string key, double value)
    {
        CorruptionValues[key] = value;
        Revalidate("corruption." + key);
    }

    public void SetSolverValue(string key, double value)
    {
        SolverValues[key] = value;
        Revalidate("solver." + key);
    }

    public void SetNoise(string noise)
    {
        Noise = noise;
        Revalidate("noise");
    }

    public void SetSigmaY(double sigmaY)
    {
        SigmaY = sigmaY;
        Revalidate("sigmaY");
    }

    public void SetPoissonRate(double rate)
    {
        PoissonRate = rate;
        Revalidate("poissonRate");
    }

    public void SetSteps(int steps)
    {
        Steps = steps;
        Revalidate("steps");
    }

    public void SetSeed(int seed)
    {
        Seed = seed;
        Revalidate("seed");
    }

    void ResetCorruptionValues()
    {
        CorruptionValues.Clear();
        if (CorruptionDescriptor is { } descriptor)
            foreach (var parameter in descriptor.Parameters) CorruptionValues[parameter.Key] = parameter.Default;
    }

    void ResetSolverValues()
    {
        SolverValues.Clear();
        if (SolverDescriptor is not { } descriptor) return;
        foreach (var parameter in descriptor.Parameters) SolverValues[parameter.Key] = parameter.Default;
        foreach (var (key, value) in descriptor.DefaultsFor(string.IsNullOrEmpty(Corruption) ? null : Corruption))
            SolverValues[key] = value;
    }

    static bool IsFieldOf(string field, string prefix) =>
        field == prefix || field.StartsWith(prefix + ".", StringComparison.Ordinal);

    void Revalidate(string changedField)
    {
        var errors = new Dictionary<string, string>();
        // Each parameter's own bounds first, so a message appears the moment a value leaves them.
        if (CorruptionDescriptor is { } corruption)
            foreach (var parameter in corruption.Parameters)
                if (CorruptionValues.TryGetValue(parameter.Key, out var value) && parameter.Validate(value) is { } message)
                    errors["corruption." + parameter.Key] = message;
        if (SolverDescriptor is { } solver)
            foreach (var parameter in solver.Parameters)
                if (SolverValues.TryGetValue(parameter.Key, out var value) && parameter.Validate(value) is { } message)
                    errors["solver." + parameter.Key] = message;
        if (SolverDescriptor is { } chosen)
        {
            if (Steps < 1 || Steps > chosen.MaxSteps)
                errors["steps"] = $"Steps must be between 1 and {chosen.MaxSteps} for {chosen.DisplayName}.";
            if (chosen.NeedsLinearOperator && CorruptionDescriptor is { IsLinear: false } nonlinear)
                errors["solver"] = $"{chosen.DisplayName} needs a linear corruption, and {nonlinear.DisplayName} is not linear. Try DPS.";
        }
        // The spec's own checks for the rest; the parameters of methods this form's catalog
        // knows were checked above against that catalog.
        foreach (var problem in ToSpec().Validate(Catalog.PriorIds))
        {
            if (CorruptionDescriptor is not null && IsFieldOf(problem.Field, "corruption")) continue;
            if (SolverDescriptor is not null && (IsFieldOf(problem.Field, "solver") || problem.Field == "steps")) continue;
            errors.TryAdd(problem.Field, problem.Message);
        }
        Errors = errors;
        Changed?.Invoke(changedField);
    }
}
