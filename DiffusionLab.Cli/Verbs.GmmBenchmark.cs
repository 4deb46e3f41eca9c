using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Solvers;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Globalization;
using System.Text.Json;

namespace DiffusionLab.Cli;

sealed class GmmBenchmarkVerb : Command<GmmBenchmarkVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--seed <N>")]
        [Help("seed of the mixture and the measurement (each d_y adds its own value)")]
        [DefaultValue(0)]
        public int Seed { get; set; }

        [CommandOption("--dx <N>")]
        [Help("dimension of x, even (the means repeat a 2-D grid)")]
        [DefaultValue(8)]
        public int Dx { get; set; } = 8;

        [CommandOption("--dy <LIST>")]
        [Help("dimensions of y to try, comma-separated, each 1 to --dx")]
        [DefaultValue("1,2,4")]
        public string Dy { get; set; } = "1,2,4";

        [CommandOption("--samples <N>")]
        [Help("posterior samples per solver")]
        [DefaultValue(1000)]
        public int Samples { get; set; } = 1000;

        [CommandOption("--steps <N>")]
        [Help("solver steps")]
        [DefaultValue(100)]
        public int Steps { get; set; } = 100;

        [CommandOption("--set <LIST>")]
        [Help("change solver settings from their defaults, comma-separated SOLVER.KEY=VALUE (e.g. score-ald.spacing=1 for evenly spaced levels)")]
        public string? Set { get; set; }

        [CommandOption("--json")]
        [Help("print the results as JSON instead of a table")]
        public bool Json { get; set; }
    }

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        long seed = options.Seed;
        int dx = options.Dx;
        var dys = CliValues.IntList(options.Dy, "--dy");
        int samples = options.Samples;
        int steps = options.Steps;
        if (dx < 2 || dx % 2 != 0) throw new CliUsageException("--dx must be an even number of at least 2 (the means repeat a 2-D grid)");
        if (dys.Any(d => d < 1 || d > dx)) throw new CliUsageException($"every --dy must be between 1 and --dx ({dx})");
        if (samples < 2) throw new CliUsageException("--samples must be at least 2");
        if (steps < 1) throw new CliUsageException("--steps must be at least 1");

        // Every solver that answers an inverse problem, whoever wrote it; the two yardsticks come first.
        var solvers = SolverCatalog.All.Where(d => d.Family is SolverFamily.Posterior or SolverFamily.Classical).ToList();
        var changes = CliValues.SolverSettings(options.Set, solvers, "--set");
        IReadOnlyDictionary<string, double> Settings(SolverDescriptor d)
        {
            var values = new Dictionary<string, double>(d.DefaultsFor(GaussianMixtureBenchmark.CorruptionId));
            foreach (var (key, value) in changes.GetValueOrDefault(d.Id, [])) values[key] = value;
            return values;
        }
        var rows = new List<BenchmarkResult>();
        foreach (int dy in dys)
        {
            using var benchmark = GaussianMixtureBenchmark.Create(dx, dy, seed + dy);
            foreach (var row in benchmark.Run(solvers, samples, steps, settings: Settings))
            {
                rows.Add(row);
                if (!options.Json)
                    AnsiConsole.MarkupLineInterpolated($"[grey]d_y = {dy}: {row.Solver} done in {row.Seconds:0.0} s{(row.Failure is null ? "" : " — " + row.Failure)}[/]");
            }
        }

        if (options.Json)
        {
            var json = rows.Select(r => new Dictionary<string, object?>
            {
                ["solver"] = r.Solver, ["dy"] = r.Dy, ["sw"] = double.IsNaN(r.Sw) ? null : Math.Round(r.Sw, 4), ["seconds"] = Math.Round(r.Seconds, 3),
                ["error"] = r.Failure,
            }.Where(p => p.Key != "error" || p.Value is not null).ToDictionary());
            Console.WriteLine(JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }

        var table = new Table().AddColumns("solver", "d_y", "sliced W₂ to exact posterior", "seconds");
        foreach (var r in rows)
            table.AddRow(r.Solver, r.Dy.ToString(CultureInfo.InvariantCulture), r.Failure is null ? r.Sw.ToString("0.00", CultureInfo.InvariantCulture) : "failed",
                r.Seconds.ToString("0.0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"d_x = {dx}, {samples} samples per solver, {steps} steps, scored against 10 000 exact posterior samples along {GaussianMixtureBenchmark.Projections} directions (sliced W₂). " +
            $"Lower is better: \"{GaussianMixtureBenchmark.ExactSamplesId}\" is {samples} exact posterior samples, the best a sampler can score; \"{GaussianMixtureBenchmark.PriorFloorId}\" ignores y and is the floor to beat. " +
            "HQS and ADMM are scored on their answer z, one point for every sample.");
        return 0;
    }
}
