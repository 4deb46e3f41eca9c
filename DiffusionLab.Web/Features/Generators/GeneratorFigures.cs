using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using System.Text.Json;

namespace DiffusionLab.Web.Features.Generators;

/// <summary>A training run's shipped history: its charts and its sample grids by step, as web paths.</summary>
public sealed record TrainingHistoryFigures(string Name, IReadOnlyList<string> Charts, IReadOnlyList<(long Step, string Path)> Grids);

/// <summary>
/// What the generators page shows, read from the files the measurement wrote under the web root's
/// generators/ folder (properties.json, inverse.json, sample grids, each run's history) and from
/// the generators' model cards. Anything missing is simply absent: the page says it is not measured.
/// </summary>
public sealed class GeneratorFigures
{
    public const string Folder = "generators";

    public IReadOnlyList<PropertiesRow> Properties { get; private init; } = [];
    public IReadOnlyList<InverseProblemRow> InverseProblems { get; private init; } = [];
    /// <summary>Sample grids by name ("heldout", "vae-faces-32", "gan-faces-32", "gan-plain-faces-32", "diffusion"), as web paths.</summary>
    public IReadOnlyDictionary<string, string> SampleGrids { get; private init; } = new Dictionary<string, string>();
    public IReadOnlyDictionary<string, GeneratorCard> Cards { get; private init; } = new Dictionary<string, GeneratorCard>();
    public IReadOnlyList<TrainingHistoryFigures> Histories { get; private init; } = [];

    static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public static GeneratorFigures Load(string webRoot, string modelsFolder)
    {
        var folder = Path.Combine(webRoot, Folder);
        T? Read<T>(string file) where T : class
        {
            var path = Path.Combine(folder, file);
            try { return File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) : null; }
            catch (JsonException) { return null; }
        }
        var grids = new Dictionary<string, string>();
        foreach (var name in new[] { "heldout", BundledGenerators.Vae, BundledGenerators.Gan, BundledGenerators.PlainGan, "diffusion" })
            if (File.Exists(Path.Combine(folder, $"samples-{name}.png"))) grids[name] = $"/{Folder}/samples-{name}.png";
        var cards = new Dictionary<string, GeneratorCard>();
        foreach (var name in new[] { BundledGenerators.Vae, BundledGenerators.Gan })
        {
            try { cards[name] = GeneratorCheckpoints.ReadCard(Path.Combine(modelsFolder, name + ".json")); }
            catch (CheckpointException) { }
        }
        var histories = new List<TrainingHistoryFigures>();
        foreach (var name in new[] { BundledGenerators.PlainGan, BundledGenerators.Gan, BundledGenerators.Vae })
        {
            var history = Path.Combine(folder, name);
            if (!Directory.Exists(history)) continue;
            var charts = new[] { "losses.svg", "logits.svg" }.Where(f => File.Exists(Path.Combine(history, f))).Select(f => $"/{Folder}/{name}/{f}").ToList();
            var steps = Directory.GetFiles(history, "grid-*.png").Select(f => Path.GetFileNameWithoutExtension(f)[5..])
                .Where(s => long.TryParse(s, out _)).Select(long.Parse).Order().Select(step => (step, $"/{Folder}/{name}/grid-{step:D6}.png")).ToList();
            histories.Add(new TrainingHistoryFigures(name, charts, steps));
        }
        return new GeneratorFigures
        {
            Properties = Read<List<PropertiesRow>>("properties.json") ?? [],
            InverseProblems = Read<List<InverseProblemRow>>("inverse.json") ?? [],
            SampleGrids = grids,
            Cards = cards,
            Histories = histories,
        };
    }

    /// <summary>The lab's link for box inpainting of the first gallery face with <paramref name="solver"/> at its defaults.</summary>
    public static string LabLink(string solver) => "/?" + Spec(solver).ToQueryString();

    /// <summary>Compare on one y with the CSGM solvers beside DPS and HQS, each at its own default number of steps.</summary>
    public static string CompareLink(string corruption = "box-inpainting") =>
        "/compare?" + WithoutSteps(Spec("dps", corruption).ToQueryString()) + "&solvers=csgm-vae,csgm-gan,dps,hqs";

    /// <summary>Eight samples of one y with <paramref name="solver"/>: for CSGM, where its random starts land.</summary>
    public static string DiversityLink(string solver) => "/diversity?" + Spec(solver).ToQueryString() + "&n=8";

    static ExperimentSpec Spec(string solver, string corruption = "box-inpainting") =>
        (ExperimentSpec.Default with
        {
            Prior = PriorCatalog.PreferredDefaultId,
            Image = "gallery:0",
            Corruption = corruption,
            Solver = solver,
            Steps = SolverCatalog.Find(solver)?.DefaultSteps ?? ExperimentSpec.Default.Steps,
        }).WithDefaults();

    static string WithoutSteps(string query) => string.Join('&', query.Split('&').Where(pair => !pair.StartsWith("steps=", StringComparison.Ordinal)));
}
