using System.Globalization;
using System.Web;

namespace DiffusionLab.Engine.Experiments;

// STAND-IN written on the web branch so the lab compiles before the lead's ExperimentSpec lands
// on main; it follows the planned API and is replaced by main's file at the next merge.

public sealed record SpecProblem(string Field, string Message);

public sealed record SpecParseResult(ExperimentSpec? Spec, IReadOnlyList<SpecProblem> Problems)
{
    public bool Ok => Spec is not null && Problems.Count == 0;
}

public sealed record ExperimentSpec
{
    public string Prior { get; init; } = "gmm-image";
    public string Image { get; init; } = "";
    public string Corruption { get; init; } = "box-inpainting";
    public IReadOnlyDictionary<string, double> CorruptionParameters { get; init; } = new Dictionary<string, double>();
    public string Noise { get; init; } = "gaussian";
    public double SigmaY { get; init; } = 0.05;
    public string Solver { get; init; } = "dps";
    public IReadOnlyDictionary<string, double> SolverParameters { get; init; } = new Dictionary<string, double>();
    public int Steps { get; init; } = 50;
    public int Seed { get; init; } = 0;

    public static ExperimentSpec Default { get; } = new();

    public string ToQueryString()
    {
        var parts = new List<string>
        {
            "prior=" + Uri.EscapeDataString(Prior), "image=" + Uri.EscapeDataString(Image),
            "corruption=" + Uri.EscapeDataString(Corruption), "noise=" + Noise,
            "sigmaY=" + SigmaY.ToString("R", CultureInfo.InvariantCulture),
            "solver=" + Uri.EscapeDataString(Solver), "steps=" + Steps, "seed=" + Seed,
        };
        parts.AddRange(CorruptionParameters.Select(p => $"corruption.{p.Key}={p.Value.ToString("R", CultureInfo.InvariantCulture)}"));
        parts.AddRange(SolverParameters.Select(p => $"solver.{p.Key}={p.Value.ToString("R", CultureInfo.InvariantCulture)}"));
        return string.Join("&", parts);
    }

    public static SpecParseResult Parse(string queryString)
    {
        var q = HttpUtility.ParseQueryString(queryString.TrimStart('?'));
        var problems = new List<SpecProblem>();
        double Num(string key, double fallback)
        {
            var s = q[key];
            if (s is null) return fallback;
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return v;
            problems.Add(new SpecProblem(key, $"{key} must be a number."));
            return fallback;
        }
        var spec = Default with
        {
            Prior = q["prior"] ?? Default.Prior,
            Image = q["image"] ?? Default.Image,
            Corruption = q["corruption"] ?? Default.Corruption,
            Noise = q["noise"] ?? Default.Noise,
            SigmaY = Num("sigmaY", Default.SigmaY),
            Solver = q["solver"] ?? Default.Solver,
            Steps = (int)Num("steps", Default.Steps),
            Seed = (int)Num("seed", Default.Seed),
            CorruptionParameters = q.AllKeys.Where(k => k?.StartsWith("corruption.") == true).ToDictionary(k => k!["corruption.".Length..], k => Num(k!, 0)),
            SolverParameters = q.AllKeys.Where(k => k?.StartsWith("solver.") == true).ToDictionary(k => k!["solver.".Length..], k => Num(k!, 0)),
        };
        problems.AddRange(spec.Validate());
        return new SpecParseResult(problems.Count == 0 ? spec : spec, problems);
    }

    public IReadOnlyList<SpecProblem> Validate()
    {
        var problems = new List<SpecProblem>();
        if (Steps < 1 || Steps > 1000) problems.Add(new("steps", "Steps must be between 1 and 1000."));
        if (SigmaY < 0 || SigmaY > 1) problems.Add(new("sigmaY", "Noise sigmaY must be between 0 and 1."));
        if (Noise is not ("gaussian" or "poisson")) problems.Add(new("noise", "Noise must be gaussian or poisson."));
        var op = Operators.OperatorCatalog.Find(Corruption);
        if (op is not null)
            foreach (var p in op.Parameters)
                if (CorruptionParameters.TryGetValue(p.Key, out var v) && p.Validate(v) is { } message)
                    problems.Add(new("corruption." + p.Key, message));
        var solver = Solvers.SolverCatalog.Find(Solver);
        if (solver is not null)
            foreach (var p in solver.Parameters)
                if (SolverParameters.TryGetValue(p.Key, out var v) && p.Validate(v) is { } message)
                    problems.Add(new("solver." + p.Key, message));
        return problems;
    }
}
