using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using System.Collections.Immutable;
using System.Globalization;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// Reads a shared link into a spec this lab can run, the one way the lab, the classroom pages and
/// the console all read links. A link may come from another server, an older version, a typo or a
/// hand edit, so what the lab lacks or forbids is replaced rather than refused, and every change
/// gets a note in plain words:
/// <list type="bullet">
/// <item>an unknown prior, image, corruption or solver becomes the default (an unknown prior takes its own first image);</item>
/// <item>a replaced corruption or solver starts from its own defaults: the link's settings were for another method;</item>
/// <item>a setting the chosen method lacks is left out, and a number outside its range is clamped into it, saying what it became and why;</item>
/// <item>a solver that needs a linear corruption is replaced when the corruption is not;</item>
/// <item>an uploaded image is kept only where the caller says it may be (the browser that uploaded it);</item>
/// <item>keys that mean nothing to a spec are left out (a page's own keys are handed back instead).</item>
/// </list>
/// A link that cannot be read at all (garbled, malformed numbers, a key twice) gives the default
/// measurement and one note saying why. The spec returned always passes
/// <see cref="ExperimentSpec.Validate(ILabOfferings)"/> against the offerings it was read with.
/// </summary>
public static class SpecLink
{
    static readonly ImmutableSortedDictionary<string, double> NoParameters = ImmutableSortedDictionary.Create<string, double>(StringComparer.Ordinal);

    /// <summary>Reads a query string (with or without '?'); never throws.</summary>
    /// <param name="hasUpload">Whether an uploaded image may be shown to whoever opened the link; null: never.</param>
    /// <param name="pageKeys">The page's own keys (compare's "solvers", diversity's "n"): handed back in <see cref="SpecLinkResult.PageValues"/>.</param>
    public static SpecLinkResult Read(string? query, ILabOfferings offerings, Func<ImageReference, bool>? hasUpload = null,
        IReadOnlyCollection<string>? pageKeys = null)
    {
        var start = ExperimentSpec.Default with { Prior = offerings.DefaultPriorId };
        var problems = new List<SpecProblem>();
        var notes = new List<string>();
        var page = new Dictionary<string, string>(StringComparer.Ordinal);
        var given = new HashSet<string>(StringComparer.Ordinal);
        var wholes = new Dictionary<string, (long Value, string Text)>(StringComparer.Ordinal);
        var spec = start;
        if (!string.IsNullOrWhiteSpace(query))
        {
            if (ExperimentSpec.TooLong(query) is { } tooLong) problems.Add(tooLong);
            else spec = FromPairs(query, offerings, pageKeys, problems, notes, page, given, wholes) ?? start;
        }
        if (problems.Count > 0)
        {
            notes.Clear(); // the link is set aside as a whole: notes about its parts would describe nothing on screen
            notes.Add(string.Join(" ", problems.Select(p => p.Message)) + " The default measurement is shown instead.");
            given.Clear();
            spec = start;
        }
        var resolved = Resolve(spec, offerings, hasUpload, given.Contains("steps"), wholes, notes);
        return new SpecLinkResult { Spec = resolved, Notes = notes, Problems = problems, PageValues = page, Given = given };
    }

    /// <summary>
    /// The same rules for a spec already in hand (the lab form loading one): what the lab lacks is
    /// replaced, what is out of range clamped, each with a note.
    /// </summary>
    public static (ExperimentSpec Spec, IReadOnlyList<string> Notes) Resolve(ExperimentSpec spec, ILabOfferings offerings,
        Func<ImageReference, bool>? hasUpload = null)
    {
        var notes = new List<string>();
        var resolved = Resolve(spec, offerings, hasUpload, stepsGiven: true, new Dictionary<string, (long, string)>(), notes);
        return (resolved, notes);
    }

    /// <summary>
    /// A whole number a page reads from its link (compare's steps, diversity's seed count), held to
    /// [<paramref name="min"/>, <paramref name="max"/>]: a note says what it became and why.
    /// </summary>
    /// <param name="rule">The rule as the start of a sentence, e.g. "A batch draws between 1 and 16 seeds".</param>
    /// <param name="fallback">What a missing or unreadable value gives.</param>
    public static int ClampWhole(string? text, int min, int max, int fallback, string rule, ICollection<string> notes)
    {
        if (text is null) return fallback;
        if (!TryWhole(text, out var value))
        {
            notes.Add($"{rule}, and the link's '{ExperimentSpec.Shorten(text)}' is not a whole number, so {fallback} is used.");
            return fallback;
        }
        return Clamp(value, text.Trim(), min, max, rule, notes);
    }

    static ExperimentSpec? FromPairs(string query, ILabOfferings offerings, IReadOnlyCollection<string>? pageKeys,
        List<SpecProblem> problems, List<string> notes, Dictionary<string, string> page, HashSet<string> given,
        Dictionary<string, (long Value, string Text)> wholes)
    {
        var specPairs = new List<KeyValuePair<string, string>>();
        var unknown = new List<string>();
        foreach (var (key, value) in ExperimentSpec.Split(query, problems))
        {
            if (pageKeys?.Contains(key) == true) { page.TryAdd(key, value); continue; }
            if (!ExperimentSpec.IsSpecKey(key)) { unknown.Add(key); continue; }
            given.Add(key);
            // A count or seed past the range of whole numbers is still clearly "too many": clamp it with the others
            // instead of calling the link unreadable.
            if (key is "steps" or "seed" or "sampleSeed" && !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _)
                && TryWhole(value, out var whole))
            {
                wholes[key] = (whole, value.Trim());
                specPairs.Add(new(key, Math.Clamp(whole, int.MinValue, int.MaxValue).ToString(CultureInfo.InvariantCulture)));
            }
            else specPairs.Add(new(key, value));
        }
        if (unknown.Count > 0)
        {
            var names = unknown.Distinct().ToList();
            var listed = string.Join(", ", names.Take(5).Select(n => $"'{ExperimentSpec.Shorten(n)}'"));
            var more = names.Count > 5 ? $" and {names.Count - 5} more" : "";
            notes.Add($"The link has settings DiffusionLab does not know, left out: {listed}{more}.");
        }
        var parsed = ExperimentSpec.Parse(specPairs, problems);
        if (parsed.Spec is not { } spec) return null;
        return given.Contains("prior") ? spec : spec with { Prior = offerings.DefaultPriorId };
    }

    static ExperimentSpec Resolve(ExperimentSpec spec, ILabOfferings offerings, Func<ImageReference, bool>? hasUpload, bool stepsGiven,
        Dictionary<string, (long Value, string Text)> wholes, List<string> notes)
    {
        // The corruption first: the solver's defaults and whether it may run depend on it.
        var op = offerings.Operators.FirstOrDefault(o => o.Id == spec.Corruption);
        var corruption = spec.CorruptionParameters;
        if (op is null && offerings.Operators.Count > 0)
        {
            op = offerings.Operators.FirstOrDefault(o => o.Id == ExperimentSpec.Default.Corruption) ?? offerings.Operators[0];
            notes.Add($"The link asks for a corruption called '{ExperimentSpec.Shorten(spec.Corruption)}', which this lab does not have; {op.DisplayName} is shown instead.");
            corruption = NoParameters; // the link's settings were for another corruption
        }
        else if (op is not null) corruption = Fit(op.Parameters, corruption, op.DisplayName, notes);

        var solver = offerings.Solvers.FirstOrDefault(s => s.Id == spec.Solver);
        var solverParameters = spec.SolverParameters;
        var steps = spec.Steps;
        string? replaced = null;
        if (solver is null && offerings.Solvers.Count > 0)
            replaced = $"The link asks for a solver called '{ExperimentSpec.Shorten(spec.Solver)}', which this lab does not have";
        else if (solver is { NeedsLinearOperator: true } && op is { IsLinear: false })
            replaced = $"{solver.DisplayName} needs a linear corruption, and {op.DisplayName} is not linear";
        else if (solver?.RefusalOf(op) is { } refusal)
            replaced = refusal;
        if (replaced is not null)
        {
            bool Fits(SolverDescriptor s) => s.RefusalOf(op) is null;
            solver = offerings.Solvers.FirstOrDefault(s => s.Id == ExperimentSpec.Default.Solver && Fits(s))
                ?? offerings.Solvers.FirstOrDefault(Fits) ?? offerings.Solvers[0];
            notes.Add($"{replaced}; {solver.DisplayName} is shown instead.");
            solverParameters = NoParameters; // the link's settings and steps were for another solver
            steps = solver.DefaultSteps;
        }
        else if (solver is not null)
        {
            solverParameters = Fit(solver.Parameters, solverParameters, solver.DisplayName, notes);
            steps = stepsGiven
                ? Clamp(wholes.TryGetValue("steps", out var s) ? s : (steps, steps.ToString(CultureInfo.InvariantCulture)), 1, solver.MaxSteps, ExperimentSpec.StepsRule(solver), notes)
                : solver.DefaultSteps;
        }

        var noise = spec.Noise;
        if (!ExperimentSpec.NoiseKinds.Contains(noise))
        {
            notes.Add($"Noise must be gaussian or poisson, and the link asks for '{ExperimentSpec.Shorten(noise)}'; Gaussian noise is shown instead.");
            noise = "gaussian";
        }
        var sigmaY = ClampNumber(spec.SigmaY, 0, ExperimentSpec.MaxSigmaY, ExperimentSpec.Default.SigmaY, ExperimentSpec.SigmaYRule, notes);
        var rate = ClampNumber(spec.PoissonRate, ExperimentSpec.MinPoissonRate, ExperimentSpec.MaxPoissonRate,
            ExperimentSpec.Default.PoissonRate, ExperimentSpec.PoissonRateRule, notes);
        var seed = Clamp(wholes.TryGetValue("seed", out var w) ? w : (spec.Seed, spec.Seed.ToString(CultureInfo.InvariantCulture)),
            0, int.MaxValue, ExperimentSpec.SeedRule, notes);
        int? sampleSeed = spec.SampleSeed is { } given
            ? Clamp(wholes.TryGetValue("sampleSeed", out var g) ? g : (given, given.ToString(CultureInfo.InvariantCulture)), 0, int.MaxValue, ExperimentSpec.SampleSeedRule, notes)
            : null;

        var (prior, image) = PriorAndImage(spec, offerings, hasUpload, notes);
        return (spec with
        {
            Prior = prior,
            Image = image,
            Corruption = op?.Id ?? spec.Corruption,
            CorruptionParameters = corruption,
            Noise = noise,
            SigmaY = sigmaY,
            PoissonRate = rate,
            Solver = solver?.Id ?? spec.Solver,
            SolverParameters = solverParameters,
            Steps = steps,
            Seed = seed,
            SampleSeed = sampleSeed,
        }).WithDefaults(op, solver, offerings.Priors.FirstOrDefault(p => p.Id == prior)?.ImageSide ?? ParameterDefinition.ReferenceImageSide);
    }

    static (string Prior, string Image) PriorAndImage(ExperimentSpec spec, ILabOfferings offerings, Func<ImageReference, bool>? hasUpload, List<string> notes)
    {
        var prior = spec.Prior;
        var image = spec.Image;
        if (offerings.Priors.All(p => p.Id != prior) && offerings.Priors.Count > 0)
        {
            // A prior this server lacks (e.g. no trained model yet): fall back, with an image of the fallback's own.
            var fallback = offerings.Priors.FirstOrDefault(p => p.Id == offerings.DefaultPriorId) ?? offerings.Priors[0];
            notes.Add($"The link asks for a prior called '{ExperimentSpec.Shorten(prior)}', which this lab does not have; {fallback.DisplayName} is shown instead.");
            prior = fallback.Id;
            image = "";
        }
        var offered = offerings.ImageReferences(prior);
        var first = offered.Count > 0 ? offered[0] : "";
        if (spec.ImageReference is { Source: ImageSource.Upload } upload && image.Length > 0)
        {
            if (hasUpload?.Invoke(upload) == true) return (prior, image);
            notes.Add("The link uses an uploaded image, which stays with the browser that uploaded it and cannot travel in a link. A gallery image is shown instead; upload your own to use it.");
            return (prior, first);
        }
        // The default spec's "gallery:0" stands for "the first image" (a bare or partial address asks for it), so it needs no note.
        if (!offered.Contains(image) && image.Length > 0 && image != ExperimentSpec.Default.Image && first.Length > 0)
            notes.Add($"The link's image '{ExperimentSpec.Shorten(image)}' is not among the images offered for {PriorName(offerings, prior)}; the first of them is shown instead.");
        return (prior, offered.Contains(image) ? image : first);
    }

    static string PriorName(ILabOfferings offerings, string id) => offerings.Priors.FirstOrDefault(p => p.Id == id)?.DisplayName ?? id;

    /// <summary>The link's settings for a method: those it lacks left out, values outside their range clamped, each with a note.</summary>
    static ImmutableSortedDictionary<string, double> Fit(IReadOnlyList<ParameterDefinition> definitions,
        ImmutableSortedDictionary<string, double> values, string owner, List<string> notes)
    {
        var fitted = values;
        foreach (var (key, value) in values)
        {
            if (definitions.FirstOrDefault(d => d.Key == key) is not { } definition)
            {
                notes.Add($"{owner} has no setting called '{ExperimentSpec.Shorten(key)}', so the link's value for it is left out.");
                fitted = fitted.Remove(key);
            }
            else if (definition.Validate(value) is { } problem)
            {
                var inRange = Within(definition, value);
                notes.Add($"{owner}: {problem.TrimEnd('.')}, so the link's {Number(value)} became {Shown(definition, inRange)}.");
                fitted = fitted.SetItem(key, inRange);
            }
        }
        return fitted;
    }

    /// <summary>The allowed value nearest to <paramref name="value"/> (the default for a value that is not a number).</summary>
    static double Within(ParameterDefinition definition, double value)
    {
        if (!double.IsFinite(value)) return definition.Default;
        if (definition.Choices is { Count: > 0 } choices) return Limit(Math.Round(value), 0, choices.Count - 1);
        var limited = Limit(value, definition.Min, definition.Max);
        return definition.IsInteger ? Limit(Math.Round(limited), Math.Ceiling(definition.Min), Math.Floor(definition.Max)) : limited;
    }

    static string Shown(ParameterDefinition definition, double value) =>
        definition.Choices is { Count: > 0 } choices ? choices[(int)value] : Number(value);

    static double ClampNumber(double value, double min, double max, double fallback, string rule, List<string> notes)
    {
        var limited = double.IsFinite(value) ? Limit(value, min, max) : fallback;
        if (!limited.Equals(value)) notes.Add($"{rule}, so the link's {Number(value)} became {Number(limited)}.");
        return limited;
    }

    static int Clamp((long Value, string Text) given, int min, int max, string rule, ICollection<string> notes) =>
        Clamp(given.Value, given.Text, min, max, rule, notes);

    static int Clamp(long value, string shown, int min, int max, string rule, ICollection<string> notes)
    {
        // Written out rather than Math.Clamp, which throws when a catalog gives min > max: a link never makes the reader throw.
        var limited = Math.Max(min, Math.Min(max, value));
        if (limited != value) notes.Add($"{rule}, so the link's {ExperimentSpec.Shorten(shown)} became {limited}.");
        return (int)limited;
    }

    static double Limit(double value, double min, double max) => Math.Max(min, Math.Min(max, value));

    /// <summary>A whole number, however large: digits past the range of a long read as its end.</summary>
    static bool TryWhole(string text, out long value)
    {
        if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out value)) return true;
        var trimmed = text.Trim();
        var digits = trimmed.StartsWith('-') || trimmed.StartsWith('+') ? trimmed[1..] : trimmed;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit)) return false;
        value = trimmed.StartsWith('-') ? long.MinValue : long.MaxValue;
        return true;
    }

    static string Number(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>What <see cref="SpecLink.Read"/> made of a link.</summary>
public sealed record SpecLinkResult
{
    /// <summary>A spec this lab can run (it passes validation against the offerings it was read with).</summary>
    public required ExperimentSpec Spec { get; init; }

    /// <summary>What was replaced, left out or clamped, in plain words, one sentence or two each.</summary>
    public required IReadOnlyList<string> Notes { get; init; }

    /// <summary>Why the link could not be read at all (then <see cref="Spec"/> is the default measurement); empty when it was read.</summary>
    public required IReadOnlyList<SpecProblem> Problems { get; init; }

    /// <summary>The values of the page's own keys, as written in the link.</summary>
    public required IReadOnlyDictionary<string, string> PageValues { get; init; }

    /// <summary>The spec keys the link held ("steps", "op.size", …), for a page that treats a given value differently from a default.</summary>
    public required IReadOnlySet<string> Given { get; init; }

    public bool Readable => Problems.Count == 0;

    public void Deconstruct(out ExperimentSpec spec, out IReadOnlyList<string> notes) => (spec, notes) = (Spec, Notes);
}
