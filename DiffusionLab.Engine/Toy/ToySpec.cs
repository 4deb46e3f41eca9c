using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Solvers.Regularizers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Toy;

/// <summary>One isotropic component of a 2-D mixture: weight, centre (X, Y) and standard deviation.</summary>
public sealed record ToyComponent(double Weight, double X, double Y, double StandardDeviation);

public enum ToyMeasurementKind
{
    /// <summary>No measurement: unconditional sampling of the prior.</summary>
    None,
    /// <summary>y = x₁ + noise (A = [1, 0]): the first coordinate is seen, the second must be guessed.</summary>
    ObserveX1,
    /// <summary>y = a₁x₁ + a₂x₂ + noise: the point lies near a line.</summary>
    Line,
}

/// <summary>What the 2-D lab measures: the kind, the line's coefficients (Line only), the observed value and its noise.</summary>
public sealed record ToyMeasurement(ToyMeasurementKind Kind, double A1 = 1, double A2 = 0, double Y = 1, double SigmaY = 0.2)
{
    public const double MinSigmaY = 0.01, MaxSigmaY = 3, MaxCoefficient = 10, MaxY = 20;

    public static ToyMeasurement None { get; } = new(ToyMeasurementKind.None);

    [JsonIgnore]
    public bool IsNone => Kind == ToyMeasurementKind.None;

    /// <summary>The 1×2 matrix A as a row.</summary>
    [JsonIgnore]
    public (double A1, double A2) Row => Kind == ToyMeasurementKind.ObserveX1 ? (1, 0) : (A1, A2);
}

/// <summary>
/// A run of the 2-D lab as a value: the mixture (a preset's components or the student's own),
/// the solver with its parameters, the measurement, how many particles and which seed. Bounded so
/// that nothing a browser sends can make the server work for long: at most
/// <see cref="MaxComponents"/> components inside ±<see cref="MaxCoordinate"/>, and at most
/// <see cref="MaxParticles"/> particles.
/// </summary>
public sealed record ToySpec(
    IReadOnlyList<ToyComponent> Components,
    string SolverId,
    IReadOnlyDictionary<string, double> Parameters,
    int Steps,
    ToyMeasurement Measurement,
    int Particles = ToySpec.DefaultParticles,
    long Seed = 0)
{
    public const int MaxComponents = 32, MaxParticles = 2000, DefaultParticles = 1000, MaxSteps = 1000, MaxJsonLength = 16 * 1024;
    public const double MaxCoordinate = 10, MinStandardDeviation = 0.05, MaxStandardDeviation = 3, MaxWeight = 1000;

    /// <summary>The corruption id whose solver defaults suit points in the plane (DPS: ζ = 1, no clipping to [-1, 1]).</summary>
    public const string CorruptionId = GaussianMixtureBenchmark.CorruptionId;

    /// <summary>The components of a 2-D preset ("ring", "grid", "two-clusters"), read from the engine's own preset mixtures.</summary>
    public static IReadOnlyList<ToyComponent> PresetComponents(string presetId)
    {
        using var prior = GaussianMixturePresets.Plane(presetId);
        using var scope = NewDisposeScope();
        var means = prior.Means.contiguous().data<double>().ToArray();
        var variances = prior.DenseCovariances().diagonal(dim1: 1, dim2: 2).contiguous().data<double>().ToArray();
        return Enumerable.Range(0, prior.ComponentCount)
            .Select(k => new ToyComponent(Math.Round(prior.Weights[k], 6), means[2 * k], means[2 * k + 1], Math.Sqrt(variances[2 * k])))
            .ToArray();
    }

    /// <summary>A spec for a preset with the solver's defaults: the page's starting point.</summary>
    public static ToySpec ForPreset(string presetId, string solverId, ToyMeasurement measurement)
    {
        var descriptor = SolverCatalog.Find(solverId) ?? throw new ArgumentException($"unknown solver '{solverId}'", nameof(solverId));
        return new ToySpec(PresetComponents(presetId), solverId, DefaultParameters(descriptor, measurement), descriptor.DefaultSteps, measurement);
    }

    /// <summary>
    /// Parameters a solver starts with in the plane. Samplers take the catalog's defaults for the
    /// explicit-matrix corruption when there is a measurement (none otherwise); HQS and ADMM use the
    /// plug-and-play regulariser, whose denoiser is the mixture itself, since total variation means
    /// nothing for a single point.
    /// </summary>
    public static IReadOnlyDictionary<string, double> DefaultParameters(SolverDescriptor descriptor, ToyMeasurement measurement)
    {
        string? corruption = measurement.IsNone ? null : CorruptionId;
        var defaults = descriptor.Family == SolverFamily.Classical
            ? ClassicalSolverCatalog.DefaultsFor(descriptor.Id, corruption, RegularizerKind.PlugAndPlayDiffusion)
            : descriptor.DefaultsFor(corruption);
        return descriptor.Parameters.ToDictionary(p => p.Key, p => defaults.TryGetValue(p.Key, out var d) ? d : p.Default);
    }

    [JsonIgnore]
    public SolverDescriptor? Solver => SolverCatalog.Find(SolverId);

    /// <summary>Every solver runs on points in the plane except the generator priors (CSGM), which need a trained image generator.</summary>
    public static bool OffersInThePlane(SolverDescriptor solver) => solver.Family != SolverFamily.Generator;

    /// <summary>HQS and ADMM return one answer, so they move a single point.</summary>
    [JsonIgnore]
    public bool IsSinglePoint => Solver?.Family == SolverFamily.Classical;

    /// <summary>The setting through which a sequential Monte Carlo sampler takes its particle count; in the plane it is the lab's own.</summary>
    public const string ParticleCountKey = "particles";

    /// <summary>A sequential Monte Carlo sampler: its particles are one weighted system, not independent runs.</summary>
    [JsonIgnore]
    public bool IsParticleSystem => Solver?.Parameters.Any(p => p.Key == ParticleCountKey) == true;

    /// <summary>Particles the run really moves.</summary>
    [JsonIgnore]
    public int BatchSize => IsSinglePoint ? 1 : Particles;

    /// <summary>Every problem at once, in words a student understands; empty when the spec can run. Fields: prior, solver, solver.KEY, steps, particles, measurement.FIELD, seed.</summary>
    public IReadOnlyList<SpecProblem> Validate()
    {
        var problems = new List<SpecProblem>();
        if (Components is null || Components.Count == 0)
            problems.Add(new("prior", "The prior needs at least one component: click the plane to add one, or pick a preset."));
        else
        {
            if (Components.Count > MaxComponents)
                problems.Add(new("prior", $"The prior may have at most {MaxComponents} components; it has {Components.Count}. Remove some."));
            for (int k = 0; k < Components.Count; k++)
            {
                var c = Components[k];
                if (c is null) { problems.Add(new("prior", $"Component {k + 1} is missing.")); continue; }
                if (!(c.Weight > 0 && c.Weight <= MaxWeight))
                    problems.Add(new("prior", $"Component {k + 1}'s weight must be above 0 and at most {Format(MaxWeight)}."));
                if (!(Math.Abs(c.X) <= MaxCoordinate && Math.Abs(c.Y) <= MaxCoordinate))
                    problems.Add(new("prior", $"Component {k + 1}'s centre must lie within ±{Format(MaxCoordinate)} on both axes."));
                if (!(c.StandardDeviation >= MinStandardDeviation && c.StandardDeviation <= MaxStandardDeviation))
                    problems.Add(new("prior", $"Component {k + 1}'s spread must be between {Format(MinStandardDeviation)} and {Format(MaxStandardDeviation)}."));
            }
        }

        var solver = Solver;
        if (solver is null)
            problems.Add(new("solver", $"There is no solver called '{SolverId}'. Choose one of: {string.Join(", ", SolverCatalog.All.Where(OffersInThePlane).Select(s => s.Id))}."));
        else if (!OffersInThePlane(solver))
            problems.Add(new("solver", $"{solver.DisplayName} searches the codes of an image generator, and the plane has none: choose another solver."));
        else
        {
            var parameters = Parameters ?? new Dictionary<string, double>();
            foreach (var definition in solver.Parameters)
                if (parameters.TryGetValue(definition.Key, out var value) && definition.Validate(value) is { } problem)
                    problems.Add(new($"solver.{definition.Key}", problem));
            foreach (var key in parameters.Keys.Where(key => solver.Parameters.All(d => d.Key != key)))
                problems.Add(new($"solver.{key}", $"{solver.DisplayName} has no parameter '{key}'."));
            if (solver.Family != SolverFamily.Unconditional && (Measurement is null || Measurement.IsNone))
                problems.Add(new("measurement", $"{solver.DisplayName} solves an inverse problem: choose a measurement (observe x₁, or a line a·x = y)."));
            int maxSteps = Math.Min(solver.MaxSteps, MaxSteps);
            if (Steps < 1 || Steps > maxSteps)
                problems.Add(new("steps", $"Steps must be between 1 and {maxSteps}."));
        }

        if (Particles < 1 || Particles > MaxParticles)
            problems.Add(new("particles", $"Particles must be between 1 and {MaxParticles}."));
        if (Seed < 0 || Seed > int.MaxValue)
            problems.Add(new("seed", $"The seed must be a whole number between 0 and {int.MaxValue}."));

        if (Measurement is null)
            problems.Add(new("measurement", "Choose a measurement (or none)."));
        else if (!Measurement.IsNone)
        {
            if (!Enum.IsDefined(Measurement.Kind))
                problems.Add(new("measurement", "The measurement must be none, observe x₁, or a line a·x = y."));
            if (!(Measurement.SigmaY >= ToyMeasurement.MinSigmaY && Measurement.SigmaY <= ToyMeasurement.MaxSigmaY))
                problems.Add(new("measurement.sigmaY", $"The noise sigmaY must be between {Format(ToyMeasurement.MinSigmaY)} and {Format(ToyMeasurement.MaxSigmaY)}."));
            if (!(Math.Abs(Measurement.Y) <= ToyMeasurement.MaxY))
                problems.Add(new("measurement.y", $"The observed value y must be between −{Format(ToyMeasurement.MaxY)} and {Format(ToyMeasurement.MaxY)}."));
            if (Measurement.Kind == ToyMeasurementKind.Line)
            {
                var (a1, a2) = (Measurement.A1, Measurement.A2);
                if (!(Math.Abs(a1) <= ToyMeasurement.MaxCoefficient && Math.Abs(a2) <= ToyMeasurement.MaxCoefficient))
                    problems.Add(new("measurement.a", $"The line's coefficients a₁ and a₂ must be between −{Format(ToyMeasurement.MaxCoefficient)} and {Format(ToyMeasurement.MaxCoefficient)}."));
                else if (a1 * a1 + a2 * a2 < 1e-6)
                    problems.Add(new("measurement.a", "The line needs a direction: a₁ and a₂ cannot both be 0."));
            }
        }
        return problems;
    }

    /// <summary>The mixture as the engine's exact prior (the caller disposes it).</summary>
    public GaussianMixturePrior CreatePrior() =>
        GaussianMixturePrior.Isotropic("toy", [2], Components.Select(c => c.Weight).ToArray(),
            Components.Select(c => new[] { c.X, c.Y }).ToArray(), Components.Select(c => c.StandardDeviation).ToArray());

    /// <summary>A = [a₁, a₂] as the engine's matrix operator, or null without a measurement (the caller disposes it).</summary>
    public MatrixMeasurement? CreateMeasurement()
    {
        if (Measurement.IsNone) return null;
        var (a1, a2) = Measurement.Row;
        using var matrix = tensor(new[] { (float)a1, (float)a2 }, [1, 2]);
        return new MatrixMeasurement(matrix, [2], CorruptionId);
    }

    /// <summary>The exact posterior p(x | y) of <paramref name="prior"/> (made by <see cref="CreatePrior"/>), or null without a measurement.</summary>
    public GaussianMixturePosterior? CreatePosterior(GaussianMixturePrior prior)
    {
        using var measurement = CreateMeasurement();
        if (measurement is null) return null;
        using var y = tensor(new[] { (float)Measurement.Y }, [1]);
        return prior.Posterior(measurement, y, NoiseModel.Gaussian(Measurement.SigmaY));
    }

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The spec as JSON: how the page hands a run to the hub.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>A spec from JSON, or the problems that keep it from running (a malformed text is one problem).</summary>
    public static (ToySpec? Spec, IReadOnlyList<SpecProblem> Problems) Parse(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return (null, [new("spec", "The run description is empty.")]);
        if (json.Length > MaxJsonLength) return (null, [new("spec", $"The run description is too long (at most {MaxJsonLength} characters).")]);
        ToySpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<ToySpec>(json, Json);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException or FormatException)
        {
            return (null, [new("spec", "The run description could not be read: " + e.Message)]);
        }
        if (spec is null) return (null, [new("spec", "The run description is empty.")]);
        var problems = spec.Validate();
        return problems.Count > 0 ? (null, problems) : (spec, []);
    }

    static string Format(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
