using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// A run as a value: which prior, which image, which corruption with its parameters, which
/// noise, which solver with its parameters, how many steps and which seed. Everything
/// downstream is a pure function of it, so a link that carries its query string
/// reproduces the run.
/// </summary>
/// <remarks>
/// Image references: <c>gallery:NAME</c> (a held-out image of the prior's domain, from
/// wwwroot-assets/gallery/PRIOR/NAME.png), <c>sample:N</c> (the N-th exact sample of a
/// Gaussian-mixture prior) or <c>upload:ID</c> (an image uploaded to this server; it does
/// not travel with a link).
/// </remarks>
public sealed record ExperimentSpec
{
    // Declared first: static initialisers run in order, and Default below needs it.
    static readonly ImmutableSortedDictionary<string, double> NoParameters = ImmutableSortedDictionary.Create<string, double>(StringComparer.Ordinal);

    public const string DefaultPrior = PriorCatalog.PreferredDefaultId;

    public string Prior { get; init; } = DefaultPrior;
    public string Image { get; init; } = "gallery:0";
    public string Corruption { get; init; } = "box-inpainting";
    public ImmutableSortedDictionary<string, double> CorruptionParameters { get; init; } = NoParameters;
    /// <summary>"gaussian" or "poisson".</summary>
    public string Noise { get; init; } = "gaussian";
    /// <summary>Gaussian noise standard deviation in the [-1, 1] image scale (0.05 here is 0.025 on a [0, 1] scale).</summary>
    public double SigmaY { get; init; } = 0.05;
    /// <summary>Photon count scale for Poisson noise: larger means less noise.</summary>
    public double PoissonRate { get; init; } = 100;
    public string Solver { get; init; } = "dps";
    public ImmutableSortedDictionary<string, double> SolverParameters { get; init; } = NoParameters;
    public int Steps { get; init; } = 250;
    public int Seed { get; init; } = 0;

    /// <summary>
    /// The seed of the solver's own noise, apart from the measurement's: the same y with another
    /// draw of the sampler (diversity sample k is the run with sample seed <see cref="FirstSampleSeed"/> + k).
    /// Null, as in every link made before it existed, means the seed itself.
    /// </summary>
    public int? SampleSeed { get; init; }

    /// <summary>The sample seed in effect: <see cref="SampleSeed"/>, or the seed when none is given.</summary>
    public int FirstSampleSeed => SampleSeed ?? Seed;

    public static ExperimentSpec Default { get; } = new();

    public static readonly IReadOnlyList<string> NoiseKinds = ["gaussian", "poisson"];

    /// <summary>Longest query string accepted (a spec is a few hundred characters).</summary>
    public const int MaxLength = 4096;
    const int MaxParameters = 32;
    /// <summary>Most key=value pairs read from one link: the fixed fields, both methods' parameters, and a page's own few.</summary>
    const int MaxPairs = 16 + 2 * MaxParameters;

    public const double MaxSigmaY = 1;
    public const double MinPoissonRate = 1;
    public const double MaxPoissonRate = 100_000;

    // The rules in words, shared by Validate's messages and the link reader's notes.
    internal const string SigmaYRule = "Noise level sigmaY must be between 0 and 1";
    internal const string PoissonRateRule = "Poisson photon scale must be between 1 and 100000";
    internal const string SeedRule = "Seed must be zero or a positive whole number";
    internal const string SampleSeedRule = "The sample seed must be zero or a positive whole number";
    internal static string StepsRule(SolverDescriptor solver) => $"Steps must be between 1 and {solver.MaxSteps} for {solver.DisplayName}";

    public NoiseModel NoiseModel => Noise == "poisson" ? NoiseModel.Poisson(PoissonRate) : NoiseModel.Gaussian(SigmaY);

    /// <summary>
    /// The same spec with every parameter its corruption and solver know filled in (defaults for
    /// the ones not given; the solver's defaults depend on the corruption). Unknown ids are left
    /// as they are for <see cref="Validate(IReadOnlyCollection{string}?)"/> to report.
    /// </summary>
    public ExperimentSpec WithDefaults() => WithDefaults(OperatorCatalog.Find(Corruption), SolverCatalog.Find(Solver));

    /// <summary>The same, with the corruption and solver given as entries of a catalog (null: leave that side as it is).</summary>
    /// <param name="imageSide">Side of the prior's images: the corruption's lengths in pixels default to sizes that suit it.</param>
    public ExperimentSpec WithDefaults(OperatorDescriptor? op, SolverDescriptor? solver, long imageSide = ParameterDefinition.ReferenceImageSide)
    {
        var corruption = CorruptionParameters;
        if (op is not null)
            foreach (var p in op.Parameters)
                if (!corruption.ContainsKey(p.Key)) corruption = corruption.SetItem(p.Key, p.DefaultFor(imageSide));
        var solverParameters = SolverParameters;
        if (solver is not null)
        {
            var defaults = solver.DefaultsFor(op?.Id);
            foreach (var p in solver.Parameters)
                if (!solverParameters.ContainsKey(p.Key))
                    solverParameters = solverParameters.SetItem(p.Key, defaults.TryGetValue(p.Key, out var d) ? d : p.Default);
        }
        return this with { CorruptionParameters = corruption, SolverParameters = solverParameters };
    }

    /// <summary>The image as a reference (gallery, sample or upload), or null when <see cref="Image"/> is not one.</summary>
    public ImageReference? ImageReference => Imaging.ImageReference.TryParse(Image, out var reference) is null ? reference : null;

    /// <summary>Every problem with this spec at once, in words a student understands. Empty when it can run.</summary>
    /// <param name="knownPriors">Prior ids this server offers; null skips that check.</param>
    public IReadOnlyList<SpecProblem> Validate(IReadOnlyCollection<string>? knownPriors = null) =>
        Validate(knownPriors, OperatorCatalog.All, SolverCatalog.All);

    /// <summary>The same, against what a lab offers (its priors, corruptions and solvers, which a test may narrow).</summary>
    public IReadOnlyList<SpecProblem> Validate(ILabOfferings offerings) =>
        Validate(offerings.Priors.Select(p => p.Id).ToArray(), offerings.Operators, offerings.Solvers);

    IReadOnlyList<SpecProblem> Validate(IReadOnlyCollection<string>? knownPriors,
        IReadOnlyList<OperatorDescriptor> operators, IReadOnlyList<SolverDescriptor> solvers)
    {
        var problems = new List<SpecProblem>();
        if (string.IsNullOrWhiteSpace(Prior)) problems.Add(new("prior", "Choose a prior."));
        else if (knownPriors is not null && !knownPriors.Contains(Prior))
            problems.Add(new("prior", $"There is no prior called '{Prior}' on this server. Available: {string.Join(", ", knownPriors)}."));

        if (Imaging.ImageReference.TryParse(Image, out _) is { } imageProblem) problems.Add(new("image", imageProblem));

        var op = operators.FirstOrDefault(o => o.Id == Corruption);
        if (op is null)
            problems.Add(new("corruption", $"Unknown corruption '{Corruption}'. Choose one of: {string.Join(", ", operators.Select(o => o.Id))}."));
        else
            CheckParameters(op.Parameters, CorruptionParameters, "corruption", op.DisplayName, problems);

        if (!NoiseKinds.Contains(Noise))
            problems.Add(new("noise", $"Noise must be gaussian or poisson, not '{Noise}'."));
        if (double.IsNaN(SigmaY) || SigmaY < 0 || SigmaY > MaxSigmaY)
            problems.Add(new("sigmaY", SigmaYRule + " (images are on a -1 to 1 scale, so 0.05 is mild noise)."));
        if (Noise == "poisson" && (double.IsNaN(PoissonRate) || PoissonRate < MinPoissonRate || PoissonRate > MaxPoissonRate))
            problems.Add(new("poissonRate", PoissonRateRule + " (larger means less noise)."));

        var solver = solvers.FirstOrDefault(s => s.Id == Solver);
        if (solver is null)
            problems.Add(new("solver", $"Unknown solver '{Solver}'. Choose one of: {string.Join(", ", solvers.Select(s => s.Id))}."));
        else
        {
            CheckParameters(solver.Parameters, SolverParameters, "solver", solver.DisplayName, problems);
            if (Steps < 1 || Steps > solver.MaxSteps)
                problems.Add(new("steps", StepsRule(solver) + "."));
            if (op is not null && solver.NeedsLinearOperator && !op.IsLinear)
                problems.Add(new("solver", $"{solver.DisplayName} needs a linear corruption, and {op.DisplayName} is not linear. Try DPS."));
            else if (solver.NeedsKnownSvd && solver.RefusalOf(op) is { } refusal)
                problems.Add(new("solver", refusal + ". Try DiffPIR or ΠGDM, which only need A and Aᵀ."));
        }
        if (Seed < 0) problems.Add(new("seed", SeedRule + "."));
        if (SampleSeed < 0) problems.Add(new("sampleSeed", SampleSeedRule + "."));
        return problems;
    }

    static void CheckParameters(IReadOnlyList<ParameterDefinition> definitions, IReadOnlyDictionary<string, double> values,
        string prefix, string owner, List<SpecProblem> problems)
    {
        foreach (var (key, value) in values)
        {
            var definition = definitions.FirstOrDefault(d => d.Key == key);
            if (definition is null)
                problems.Add(new($"{prefix}.{key}", $"{owner} has no setting called '{key}'."));
            else if (definition.Validate(value) is { } message)
                problems.Add(new($"{prefix}.{key}", message));
        }
    }

    /// <summary>
    /// The canonical, URL-safe form: a query string with fixed key order, parameters sorted
    /// and numbers written so they parse back to the same double. <c>Parse(ToQueryString())</c>
    /// gives an equal spec.
    /// </summary>
    public string ToQueryString()
    {
        var parts = new List<string>
        {
            Pair("prior", Prior),
            Pair("image", Image),
            Pair("op", Corruption),
        };
        parts.AddRange(CorruptionParameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Pair("op." + p.Key, Number(p.Value))));
        parts.Add(Pair("noise", Noise));
        parts.Add(Pair("sigmaY", Number(SigmaY)));
        if (Noise == "poisson") parts.Add(Pair("rate", Number(PoissonRate)));
        parts.Add(Pair("solver", Solver));
        parts.AddRange(SolverParameters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => Pair("s." + p.Key, Number(p.Value))));
        parts.Add(Pair("steps", Steps.ToString(CultureInfo.InvariantCulture)));
        parts.Add(Pair("seed", Seed.ToString(CultureInfo.InvariantCulture)));
        if (FirstSampleSeed != Seed) parts.Add(Pair("sampleSeed", FirstSampleSeed.ToString(CultureInfo.InvariantCulture)));
        return string.Join('&', parts);

        static string Pair(string key, string value) => Uri.EscapeDataString(key) + "=" + Uri.EscapeDataString(value);
        static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Reads a query string (with or without a leading '?'). Keys that are absent keep their
    /// defaults; anything malformed is reported, all problems at once, never thrown.
    /// </summary>
    public static SpecParseResult Parse(string? query)
    {
        var problems = new List<SpecProblem>();
        if (string.IsNullOrEmpty(query)) return new(new ExperimentSpec(), problems);
        if (TooLong(query) is { } tooLong) return new(null, [tooLong]);
        var pairs = Split(query, problems);
        foreach (var (key, _) in pairs)
            if (!IsSpecKey(key)) problems.Add(new("link", $"The link has an unknown setting '{Shorten(key)}'."));
        return Parse(pairs.Where(pair => IsSpecKey(pair.Key)), problems);
    }

    internal static SpecProblem? TooLong(string query) => query.Length > MaxLength
        ? new("link", $"This link is too long to be a DiffusionLab run ({query.Length} characters; at most {MaxLength}).")
        : null;

    /// <summary>The keys a spec's query string may hold: its fixed fields, "op.NAME" and "s.NAME".</summary>
    internal static bool IsSpecKey(string key) => key switch
    {
        "prior" or "image" or "op" or "noise" or "sigmaY" or "rate" or "solver" or "steps" or "seed" or "sampleSeed" => true,
        _ => key.Length > 3 && key.StartsWith("op.", StringComparison.Ordinal) || key.Length > 2 && key.StartsWith("s.", StringComparison.Ordinal),
    };

    /// <summary>A query string's key=value pairs, unescaped, in order; garbled parts are reported and left out.</summary>
    internal static List<KeyValuePair<string, string>> Split(string query, List<SpecProblem> problems)
    {
        if (query.StartsWith('?')) query = query[1..];
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            if (pairs.Count == MaxPairs) { problems.Add(new("link", "The link has too many settings.")); break; }
            var eq = part.IndexOf('=');
            try
            {
                pairs.Add(new(Uri.UnescapeDataString(eq < 0 ? part : part[..eq].Replace('+', ' ')),
                    eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '))));
            }
            catch (UriFormatException)
            {
                problems.Add(new("link", $"Part of the link is garbled: '{Shorten(part)}'."));
            }
        }
        return pairs;
    }

    /// <summary>A spec from pairs that all have spec keys (<see cref="IsSpecKey"/>), adding to the problems found before.</summary>
    internal static SpecParseResult Parse(IEnumerable<KeyValuePair<string, string>> pairs, List<SpecProblem> problems)
    {
        var spec = new ExperimentSpec();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var corruption = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        var solver = ImmutableSortedDictionary.CreateBuilder<string, double>(StringComparer.Ordinal);
        foreach (var (key, value) in pairs)
        {
            if (!seen.Add(key)) { problems.Add(new(FieldOf(key), $"'{Shorten(key)}' appears twice in the link.")); continue; }

            switch (key)
            {
                case "prior": spec = spec with { Prior = Text(key, value, 64) }; break;
                case "image": spec = spec with { Image = Text(key, value, 128) }; break;
                case "op": spec = spec with { Corruption = Text(key, value, 64) }; break;
                case "noise": spec = spec with { Noise = Text(key, value, 16) }; break;
                case "solver": spec = spec with { Solver = Text(key, value, 64) }; break;
                case "sigmaY": if (Double(key, value) is { } sigma) spec = spec with { SigmaY = sigma }; break;
                case "rate": if (Double(key, value) is { } rate) spec = spec with { PoissonRate = rate }; break;
                case "steps": if (Int(key, value) is { } steps) spec = spec with { Steps = steps }; break;
                case "seed": if (Int(key, value) is { } seed) spec = spec with { Seed = seed }; break;
                case "sampleSeed": if (Int(key, value) is { } sampleSeed) spec = spec with { SampleSeed = sampleSeed }; break;
                default:
                    if (key.StartsWith("op.", StringComparison.Ordinal))
                    {
                        if (Double(key, value) is { } o) corruption[key[3..]] = o;
                    }
                    else if (Double(key, value) is { } s) solver[key[2..]] = s;
                    break;
            }
        }
        if (corruption.Count > MaxParameters || solver.Count > MaxParameters) problems.Add(new("link", "The link has too many settings."));
        spec = spec with { CorruptionParameters = corruption.ToImmutable(), SolverParameters = solver.ToImmutable() };
        return new(problems.Count == 0 ? spec : null, problems);

        string Text(string key, string value, int max)
        {
            if (value.Length == 0 || value.Length > max || value.Any(c => char.IsControl(c)))
            {
                problems.Add(new(FieldOf(key), $"The link's {key} '{Shorten(value)}' is not valid."));
                return value.Length > max ? value[..max] : value;
            }
            return value;
        }

        double? Double(string key, string value)
        {
            if (double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            problems.Add(new(FieldOf(key), $"The link's {Shorten(key)} should be a number, not '{Shorten(value)}'."));
            return null;
        }

        int? Int(string key, string value)
        {
            if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) return n;
            problems.Add(new(FieldOf(key), $"The link's {key} should be a whole number, not '{Shorten(value)}'."));
            return null;
        }
    }

    static string FieldOf(string key) => key switch
    {
        "op" => "corruption",
        _ when key.StartsWith("op.", StringComparison.Ordinal) => "corruption." + key[3..],
        _ when key.StartsWith("s.", StringComparison.Ordinal) => "solver." + key[2..],
        "rate" => "poissonRate",
        _ => key,
    };

    internal static string Shorten(string s)
    {
        var sb = new StringBuilder();
        foreach (var c in s.Take(40)) sb.Append(char.IsControl(c) ? '?' : c);
        if (s.Length > 40) sb.Append('…');
        return sb.ToString();
    }

    public bool Equals(ExperimentSpec? other) =>
        other is not null && Prior == other.Prior && Image == other.Image && Corruption == other.Corruption
        && Noise == other.Noise && SigmaY.Equals(other.SigmaY) && PoissonRate.Equals(other.PoissonRate)
        && Solver == other.Solver && Steps == other.Steps && Seed == other.Seed && FirstSampleSeed == other.FirstSampleSeed
        && CorruptionParameters.SequenceEqual(other.CorruptionParameters) && SolverParameters.SequenceEqual(other.SolverParameters);

    public override int GetHashCode() => HashCode.Combine(Prior, Image, Corruption, Solver, Steps, Seed, SigmaY);
}

/// <summary>One problem with a spec: the field it concerns (e.g. "solver.zeta") and a plain-words message.</summary>
public sealed record SpecProblem(string Field, string Message);

/// <summary>The result of <see cref="ExperimentSpec.Parse"/>: a spec, or every problem found.</summary>
public sealed record SpecParseResult(ExperimentSpec? Spec, IReadOnlyList<SpecProblem> Problems)
{
    public bool Succeeded => Spec is not null;
}
