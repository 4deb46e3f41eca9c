using System.Globalization;
using System.Text.Json;
using DiffusionLab.Engine.Solvers;
using Spectre.Console;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_GmmBenchmark() => Register("gmm-benchmark",
        "exact-posterior Gaussian-mixture benchmark (MCGdiff): sliced Wasserstein distance of each posterior solver to the truth",
        RunGmmBenchmarkAsync);

    static Task<int> RunGmmBenchmarkAsync(string[] args)
    {
        var options = new CliOptions(args, "json");
        long seed = options.Int("seed", 0);
        int dx = options.Int("dx", 8);
        var dys = options.IntList("dy", [1, 2, 4]);
        int samples = options.Int("samples", 1000);
        int steps = options.Int("steps", 100);
        if (dx < 2 || dx % 2 != 0) throw new CliUsageException("--dx must be an even number of at least 2 (the means repeat a 2-D grid)");
        if (dys.Any(d => d < 1 || d > dx)) throw new CliUsageException($"every --dy must be between 1 and --dx ({dx})");
        if (samples < 2) throw new CliUsageException("--samples must be at least 2");
        if (steps < 1) throw new CliUsageException("--steps must be at least 1");

        // Every solver that answers an inverse problem, whoever wrote it; the prior floor comes first.
        var solvers = SolverCatalog.All.Where(d => d.Family is SolverFamily.Posterior or SolverFamily.Classical).ToList();
        var rows = new List<BenchmarkResult>();
        foreach (int dy in dys)
        {
            using var benchmark = GaussianMixtureBenchmark.Create(dx, dy, seed + dy);
            foreach (var row in benchmark.Run(solvers, samples, steps))
            {
                rows.Add(row);
                if (!options.Has("json"))
                    AnsiConsole.MarkupLineInterpolated($"[grey]d_y = {dy}: {row.Solver} done in {row.Seconds:0.0} s{(row.Failure is null ? "" : " — " + row.Failure)}[/]");
            }
        }

        if (options.Has("json"))
        {
            var json = rows.Select(r => new Dictionary<string, object?>
            {
                ["solver"] = r.Solver, ["dy"] = r.Dy, ["sw"] = double.IsNaN(r.Sw) ? null : Math.Round(r.Sw, 4), ["seconds"] = Math.Round(r.Seconds, 3),
                ["error"] = r.Failure,
            }.Where(p => p.Key != "error" || p.Value is not null).ToDictionary());
            Console.WriteLine(JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
            return Task.FromResult(0);
        }

        var table = new Table().AddColumns("solver", "d_y", "sliced W₂ to exact posterior", "seconds");
        foreach (var r in rows)
            table.AddRow(r.Solver, r.Dy.ToString(CultureInfo.InvariantCulture), r.Failure is null ? r.Sw.ToString("0.00", CultureInfo.InvariantCulture) : "failed",
                r.Seconds.ToString("0.0", CultureInfo.InvariantCulture));
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"d_x = {dx}, {samples} samples per solver, {steps} steps, 10 000 exact posterior samples, 100 projections. Lower is better; \"prior\" ignores y and is the floor to beat.");
        return Task.FromResult(0);
    }
}
