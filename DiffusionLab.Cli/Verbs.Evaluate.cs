using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Globalization;

namespace DiffusionLab.Cli;

/// <summary>
/// The results table: every chosen solver on every chosen task over N held-out images of a prior,
/// mean ± standard error of PSNR, SSIM and the residual, network evaluations and seconds. Each finished
/// cell is appended to the folder's cells.jsonl, and a rerun with the same settings skips it.
/// </summary>
sealed class EvaluateVerb : Command<EvaluateVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--prior <ID>")]
        [Help("the prior whose held-out images are scored (default: the lab's default prior)")]
        public string? Prior { get; set; }

        [CommandOption("--solvers <LIST>")]
        [Help("solver ids, comma-separated (default: every posterior and classical solver)")]
        public string? Solvers { get; set; }

        [CommandOption("--tasks <LIST>")]
        [Help("tasks, comma-separated: box-inpainting (16×16 centred hole, σ_y 0.05), sr4 (×4 super-resolution, σ_y 0.05), denoise (σ_y 0.1)")]
        [DefaultValue("box-inpainting,sr4,denoise")]
        public string Tasks { get; set; } = "box-inpainting,sr4,denoise";

        [CommandOption("--images <N>")]
        [Help("held-out images per cell (image i runs with seed i)")]
        [DefaultValue(64)]
        public int Images { get; set; } = 64;

        [CommandOption("--steps <LIST>")]
        [Help("steps: one number for every solver, or SOLVER=N pairs, comma-separated (a solver not named takes its default)")]
        public string? Steps { get; set; }

        [CommandOption("--set <LIST>")]
        [Help("change solver settings from their defaults, comma-separated SOLVER.KEY=VALUE (e.g. score-ald.spacing=1); the table names the changed settings beside the solver")]
        public string? Set { get; set; }

        [CommandOption("--batch <N>")]
        [Help("images solved together as one batch")]
        [DefaultValue(16)]
        public int Batch { get; set; } = 16;

        [CommandOption("--out <DIR>")]
        [Help("folder for cells.jsonl, results.json, results.csv and results.md (default: models/results/PRIOR, where the web app's Results page reads it)")]
        public string? Out { get; set; }
    }

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        if (options.Images < 1) throw new CliUsageException("--images must be at least 1");
        if (options.Batch < 1) throw new CliUsageException("--batch must be at least 1");
        var location = options.Location();
        location.Report();
        var priors = location.Priors();
        var prior = options.Prior ?? priors.DefaultId;
        if (priors.Find(prior) is null) throw new CliUsageException($"--prior: there is no prior '{prior}' here (one of: {string.Join(", ", priors.Ids.Order())})");

        var offered = SolverCatalog.All.Where(d => d.Family is SolverFamily.Posterior or SolverFamily.Classical).ToList();
        var solvers = options.Solvers is null ? offered : Names(options.Solvers).Select(id => offered.FirstOrDefault(d => d.Id == id)
            ?? throw new CliUsageException($"--solvers: '{id}' is not a solver of inverse problems here (one of: {string.Join(", ", offered.Select(d => d.Id))})")).ToList();
        var tasks = Names(options.Tasks).Select(id => EvaluationTask.Find(id)
            ?? throw new CliUsageException($"--tasks: there is no task '{id}' (one of: {string.Join(", ", EvaluationTask.Presets.Select(t => t.Id))})")).ToList();
        var steps = StepsFor(options.Steps, solvers);
        var changes = CliValues.SolverSettings(options.Set, solvers, "--set");

        var folder = options.Out ?? Path.Combine(location.Models, "results", prior);
        var evaluation = new Evaluation(new Runner(priors));
        var images = evaluation.Images(prior, options.Images);
        if (images.Count < options.Images)
            AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {prior} has {images.Count} held-out images, so every cell uses {images.Count}.");
        var done = EvaluationResults.ReadCells(folder).ToDictionary(c => c.Key, StringComparer.Ordinal);
        var cells = new List<EvaluationCell>();

        AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(progress =>
            {
                foreach (var task in tasks)
                    foreach (var solver in solvers)
                    {
                        int n = steps[solver.Id];
                        var settings = changes.GetValueOrDefault(solver.Id);
                        var variant = EvaluationCell.VariantOf(settings);
                        var line = progress.AddTask(Markup.Escape($"{task.Id} · {solver.Id} ({n} steps)"), maxValue: 1);
                        if (done.TryGetValue(EvaluationCell.CellKey(prior, solver.Id, task.Id, n, images.Count, variant), out var kept))
                        {
                            line.Description = Markup.Escape($"{task.Id} · {solver.Id} ({n} steps, from the results file)");
                            line.Value = 1;
                            cells.Add(kept);
                            continue;
                        }
                        var cell = evaluation.RunCell(prior, solver, task, n, images, options.Batch, share => line.Value = share, cancellation, settings);
                        line.Value = 1;
                        EvaluationResults.AppendCell(folder, cell);
                        cells.Add(cell);
                    }
            });

        int reused = cells.Count(c => done.ContainsKey(c.Key));
        if (reused > 0)
            AnsiConsole.MarkupLineInterpolated($"[grey]{reused} of {cells.Count} cells came from the results file {Path.Combine(folder, EvaluationResults.CellsFile)} (delete it to measure them again).[/]");
        var table = new EvaluationTable(prior, images.Count, DateTimeOffset.UtcNow, CommandLine(options, prior, folder),
            $"{Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}", cells);
        EvaluationResults.WriteTable(folder, table);
        AnsiConsole.Write(ConsoleTable(cells));
        AnsiConsole.MarkupLineInterpolated($"{images.Count} held-out images of {prior}, mean ± standard error. Written to {folder}: {EvaluationResults.TableFile}, {EvaluationResults.CsvFile}, {EvaluationResults.MarkdownFile}.");
        return 0;
    }

    static IEnumerable<string> Names(string list) => list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct();

    /// <summary>"100" → every solver 100; "dps=250,ddim=50" → those, the rest their defaults; each within the solver's range.</summary>
    internal static Dictionary<string, int> StepsFor(string? value, IReadOnlyList<SolverDescriptor> solvers)
    {
        var steps = solvers.ToDictionary(s => s.Id, s => s.DefaultSteps, StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value)) return steps;
        foreach (var part in Names(value))
        {
            int equals = part.IndexOf('=');
            var (ids, text) = equals < 0 ? (solvers.Select(s => s.Id).ToArray(), part) : (new[] { part[..equals] }, part[(equals + 1)..]);
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n))
                throw new CliUsageException($"--steps takes a whole number or SOLVER=N pairs, not '{part}'");
            foreach (var id in ids)
            {
                var solver = solvers.FirstOrDefault(s => s.Id == id) ?? throw new CliUsageException($"--steps: '{id}' is not among the solvers evaluated");
                if (n < 1 || n > solver.MaxSteps) throw new CliUsageException($"--steps: {id} takes between 1 and {solver.MaxSteps} steps, not {n}");
                steps[id] = n;
            }
        }
        return steps;
    }

    static string CommandLine(Settings o, string prior, string folder)
    {
        var parts = new List<string> { "dotnet run -c Release --project DiffusionLab.Cli -- evaluate", "--prior", prior, "--tasks", o.Tasks, "--images", o.Images.ToString(CultureInfo.InvariantCulture) };
        if (o.Solvers is not null) parts.AddRange(["--solvers", o.Solvers]);
        if (o.Steps is not null) parts.AddRange(["--steps", o.Steps]);
        if (o.Set is not null) parts.AddRange(["--set", o.Set]);
        parts.AddRange(["--batch", o.Batch.ToString(CultureInfo.InvariantCulture)]);
        if (o.Out is not null) parts.AddRange(["--out", folder]);
        return string.Join(' ', parts);
    }

    static Table ConsoleTable(IEnumerable<EvaluationCell> cells)
    {
        var table = new Table().AddColumns("task", "solver", "steps", "PSNR (dB)", "SSIM", "residual", "network evaluations", "s per image");
        foreach (var c in cells)
        {
            if (c.Failure is not null)
            {
                table.AddRow(c.Task, Markup.Escape(c.Method), N(c.Steps), "refused", Markup.Escape(c.Failure), "", "", "");
                continue;
            }
            var i = CultureInfo.InvariantCulture;
            table.AddRow(c.Task, Markup.Escape(c.Method), N(c.Steps), string.Create(i, $"{c.Psnr.Mean:0.00} ± {c.Psnr.StandardError:0.00}"),
                string.Create(i, $"{c.Ssim.Mean:0.000} ± {c.Ssim.StandardError:0.000}"), string.Create(i, $"{c.Residual.Mean:0.00} ± {c.Residual.StandardError:0.00}"),
                N(c.NetworkEvaluations), c.SecondsPerImage.ToString("0.000", i));
        }
        return table;

        static string N(double v) => v.ToString("0", CultureInfo.InvariantCulture);
    }
}
