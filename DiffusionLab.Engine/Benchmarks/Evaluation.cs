using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Benchmarks;

/// <summary>One corruption of the results table, with its settings and its measurement noise.</summary>
/// <param name="Corruption">The corruption's catalog id.</param>
/// <param name="Parameters">Its settings; any not named take their catalog defaults.</param>
public sealed record EvaluationTask(string Id, string Name, string Corruption, IReadOnlyDictionary<string, double> Parameters, double SigmaY)
{
    /// <summary>The tasks the table offers by name. Every operator is independent of the seed, so one A serves a whole batch of images.</summary>
    public static IReadOnlyList<EvaluationTask> Presets { get; } =
    [
        // A centred hole, not a random one: the same A for every image, so the images batch (and the table does not depend on where a hole fell).
        new("box-inpainting", "box inpainting 16×16, σ_y = 0.05", "box-inpainting", new Dictionary<string, double> { ["box-size"] = 16, ["placement"] = 0 }, 0.05),
        new("sr4", "×4 super-resolution, σ_y = 0.05", "super-resolution", new Dictionary<string, double> { ["factor"] = 1 }, 0.05),
        new("denoise", "denoising, σ_y = 0.1", "denoise", new Dictionary<string, double>(), 0.1),
    ];

    public static EvaluationTask? Find(string id) => Presets.FirstOrDefault(t => t.Id == id);
}

/// <summary>A mean and its standard error s/√n (s with n − 1 in the denominator; 0 for a single value).</summary>
public readonly record struct MeanAndError(double Mean, double StandardError)
{
    public static MeanAndError Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return new(double.NaN, double.NaN);
        double mean = values.Average();
        if (values.Count == 1) return new(mean, 0);
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
        return new(mean, Math.Sqrt(variance / values.Count));
    }
}

/// <summary>
/// One cell of the table: a solver on a task over the held-out images. Seconds are the wall time per
/// image of the batched run; network evaluations are per image (a batched call counts once, as for one image).
/// </summary>
/// <param name="Variant">The settings changed from the solver's defaults, "key=value" comma-separated ("" for none).</param>
public sealed record EvaluationCell(
    string Prior, string Solver, string Task, int Steps, int Images,
    MeanAndError Psnr, MeanAndError Ssim, MeanAndError Residual,
    double NetworkEvaluations, double SecondsPerImage, string? Failure = null, string Variant = "")
{
    /// <summary>What makes two cells the same measurement: a rerun skips a cell whose key is already in the results file.</summary>
    [JsonIgnore]
    public string Key => CellKey(Prior, Solver, Task, Steps, Images, Variant);

    /// <summary>The solver as the table names it: its id, and the changed settings in brackets.</summary>
    [JsonIgnore]
    public string Method => Variant.Length == 0 ? Solver : $"{Solver} ({Variant})";

    public static string CellKey(string prior, string solver, string task, int steps, int images, string variant = "") =>
        string.Create(CultureInfo.InvariantCulture, $"{prior}|{solver}|{task}|{steps}|{images}|{variant}");

    /// <summary>"key=value" pairs of changed settings in key order, the form <see cref="Variant"/> takes.</summary>
    public static string VariantOf(IReadOnlyDictionary<string, double>? settings) => settings is null ? "" :
        string.Join(",", settings.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Key + "=" + p.Value.ToString("R", CultureInfo.InvariantCulture)));
}

/// <summary>
/// The results table: solvers × tasks over N held-out images of a prior, each image the lab run of its own
/// link (seed = the image's index, sample seed the same), all through the run core. The N images of a cell
/// run as batches through <see cref="SolverRun"/>, each image with its own y and its own noise stream, so an
/// image's numbers are exactly those of its lab run; only the clock is shared.
/// </summary>
public sealed class Evaluation(Runner runner)
{
    /// <summary>The images a prior is scored on: its held-out gallery in order, or exact samples for a mixture without one.</summary>
    public IReadOnlyList<string> Images(string prior, int count)
    {
        var gallery = runner.Priors.Gallery(prior);
        if (gallery.Count > 0) return gallery.Take(count).Select(name => new ImageReference(ImageSource.Gallery, name).ToString()).ToArray();
        return Enumerable.Range(0, count).Select(i => new ImageReference(ImageSource.Sample, i.ToString(CultureInfo.InvariantCulture)).ToString()).ToArray();
    }

    /// <summary>The spec of image <paramref name="index"/> of a cell: the link that reproduces it in the lab.</summary>
    /// <param name="settings">Solver settings changed from its defaults for the task (null: none).</param>
    public static ExperimentSpec Spec(string prior, string image, int index, SolverDescriptor solver, EvaluationTask task, int steps,
        IReadOnlyDictionary<string, double>? settings = null) =>
        (ExperimentSpec.Default with
        {
            Prior = prior,
            Image = image,
            Corruption = task.Corruption,
            CorruptionParameters = task.Parameters.ToImmutableSortedDictionary(StringComparer.Ordinal),
            Noise = "gaussian",
            SigmaY = task.SigmaY,
            Solver = solver.Id,
            Steps = steps,
            Seed = index,
            SampleSeed = null,
            SolverParameters = (settings ?? new Dictionary<string, double>()).ToImmutableSortedDictionary(StringComparer.Ordinal),
        }).WithDefaults(OperatorCatalog.Find(task.Corruption), solver);

    /// <summary>
    /// Runs one cell over <paramref name="images"/> in batches of <paramref name="batch"/>. A solver that refuses
    /// the task gives a cell with its message instead of numbers.
    /// </summary>
    /// <param name="progress">Called after every solver step with the share of the cell done, 0 to 1.</param>
    public EvaluationCell RunCell(string prior, SolverDescriptor solver, EvaluationTask task, int steps, IReadOnlyList<string> images,
        int batch = 16, Action<double>? progress = null, CancellationToken cancellation = default, IReadOnlyDictionary<string, double>? settings = null)
    {
        var variant = EvaluationCell.VariantOf(settings);
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), "at least one image per batch");
        var psnr = new List<double>();
        var ssim = new List<double>();
        var residual = new List<double>();
        double evaluations = 0, seconds = 0;
        try
        {
            for (int start = 0; start < images.Count; start += batch)
            {
                int count = Math.Min(batch, images.Count - start);
                var (batchPsnr, batchSsim, batchResidual, batchEvaluations, batchSeconds) =
                    RunBatch(prior, solver, task, steps, settings, images, start, count, done => progress?.Invoke((start + done * count) / images.Count), cancellation);
                psnr.AddRange(batchPsnr);
                ssim.AddRange(batchSsim);
                residual.AddRange(batchResidual);
                evaluations = batchEvaluations;
                seconds += batchSeconds;
            }
        }
        catch (Exception e) when (e is SolverException or SpecException)
        {
            return new EvaluationCell(prior, solver.Id, task.Id, steps, images.Count, default, default, default, double.NaN, double.NaN, e.Message, variant);
        }
        progress?.Invoke(1);
        return new EvaluationCell(prior, solver.Id, task.Id, steps, images.Count,
            MeanAndError.Of(psnr), MeanAndError.Of(ssim), MeanAndError.Of(residual), evaluations, seconds / images.Count, Variant: variant);
    }

    (double[] Psnr, double[] Ssim, double[] Residual, int Evaluations, double Seconds) RunBatch(string prior, SolverDescriptor solver,
        EvaluationTask task, int steps, IReadOnlyDictionary<string, double>? settings, IReadOnlyList<string> images, int start, int count, Action<double> progress, CancellationToken cancellation)
    {
        var runs = new List<PreparedRun>();
        using var scope = NewDisposeScope();
        try
        {
            for (int i = start; i < start + count; i++)
                runs.Add(runner.Prepare(Spec(prior, images[i], i, solver, task, steps, settings)));
            var first = runs[0];
            var y = cat(runs.Select(r => r.Y).ToArray(), 0);
            var truth = cat(runs.Select(r => r.GroundTruth).ToArray(), 0);
            var problem = new RunProblem(first.Prior, first.Measurement, y, first.Spec.NoiseModel);
            var instance = first.Plan.Solver.Create(first.Spec.SolverParameters);
            var clock = Stopwatch.StartNew();
            // Image i draws its solver noise from sample seed i, the stream of its own lab run.
            foreach (var step in SolverRun.Steps(instance, problem, first.Spec.Steps, count, RunSeeds.ForSamples(start, count), cancellation))
            {
                progress((step.Index + 1.0) / step.Total);
                if (!step.IsFinal) continue;
                clock.Stop();
                var estimate = step.X0Hat.detach();
                var ssim = truth.dim() == 4 ? ImageMetrics.Ssim(estimate, truth) : Enumerable.Repeat(double.NaN, count).ToArray();
                return (ImageMetrics.Psnr(estimate, truth), ssim, step.Residual, step.NetworkEvaluations, clock.Elapsed.TotalSeconds);
            }
            throw new SolverException($"{solver.Id} took no steps.");
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }
}

/// <summary>
/// The results file: one JSON line per finished cell, appended as each cell ends, so an interrupted
/// evaluation resumes where it stopped; and the table it makes, as JSON, CSV and markdown.
/// </summary>
public static class EvaluationResults
{
    public const string CellsFile = "cells.jsonl", TableFile = "results.json", CsvFile = "results.csv", MarkdownFile = "results.md";

    static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The cells already in a results file (the last line of a key wins; a torn last line is ignored).</summary>
    public static IReadOnlyList<EvaluationCell> ReadCells(string folder)
    {
        var file = Path.Combine(folder, CellsFile);
        if (!File.Exists(file)) return [];
        var cells = new Dictionary<string, EvaluationCell>(StringComparer.Ordinal);
        foreach (var line in File.ReadLines(file))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonSerializer.Deserialize<EvaluationCell>(line, Json) is { } cell) cells[cell.Key] = cell;
            }
            catch (JsonException)
            {
                // A line cut short by an interrupted run: that cell simply runs again.
            }
        }
        return cells.Values.ToArray();
    }

    public static void AppendCell(string folder, EvaluationCell cell)
    {
        Directory.CreateDirectory(folder);
        File.AppendAllText(Path.Combine(folder, CellsFile), JsonSerializer.Serialize(cell, Json) + "\n");
    }

    /// <summary>Writes results.json (the table and how it was made), results.csv and results.md beside the cells.</summary>
    public static void WriteTable(string folder, EvaluationTable table)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, TableFile), JsonSerializer.Serialize(table, new JsonSerializerOptions(Json) { WriteIndented = true }));
        File.WriteAllText(Path.Combine(folder, CsvFile), Csv(table.Cells));
        File.WriteAllText(Path.Combine(folder, MarkdownFile), Markdown(table));
    }

    public static EvaluationTable? ReadTable(string file)
    {
        try
        {
            return File.Exists(file) ? JsonSerializer.Deserialize<EvaluationTable>(File.ReadAllText(file), Json) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Csv(IEnumerable<EvaluationCell> cells)
    {
        var csv = new StringBuilder("prior,solver,task,steps,images,psnr,psnr_se,ssim,ssim_se,residual,residual_se,network_evaluations,seconds_per_image,failure\n");
        foreach (var c in cells)
            csv.AppendLine(string.Join(',', c.Prior, c.Method.Contains(',', StringComparison.Ordinal) ? "\"" + c.Method + "\"" : c.Method, c.Task, N(c.Steps), N(c.Images), N(c.Psnr.Mean), N(c.Psnr.StandardError),
                N(c.Ssim.Mean), N(c.Ssim.StandardError), N(c.Residual.Mean), N(c.Residual.StandardError), N(c.NetworkEvaluations),
                N(c.SecondsPerImage), c.Failure is null ? "" : "\"" + c.Failure.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));
        return csv.ToString();

        static string N(double v) => double.IsFinite(v) ? v.ToString("R", CultureInfo.InvariantCulture) : "";
    }

    /// <summary>One row per cell, tasks in the order given, solvers in theirs.</summary>
    public static string Markdown(EvaluationTable table)
    {
        var md = new StringBuilder();
        md.AppendLine("| task | solver | steps | PSNR (dB) | SSIM | residual ‖y − A x̂‖ | network evaluations | seconds per image |");
        md.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var c in table.Cells)
        {
            var task = EvaluationTask.Find(c.Task)?.Name ?? c.Task;
            if (c.Failure is not null)
            {
                md.AppendLine($"| {task} | {c.Method} | {c.Steps} | refused: {c.Failure.Replace("|", "/", StringComparison.Ordinal)} | | | | |");
                continue;
            }
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {task} | {c.Method} | {c.Steps} | {c.Psnr.Mean:0.00} ± {c.Psnr.StandardError:0.00} | {c.Ssim.Mean:0.000} ± {c.Ssim.StandardError:0.000} | {c.Residual.Mean:0.00} ± {c.Residual.StandardError:0.00} | {c.NetworkEvaluations:0} | {c.SecondsPerImage:0.000} |"));
        }
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"{table.Prior}, {table.Images} held-out images, mean ± standard error over the images. {table.Command}"));
        return md.ToString();
    }
}

/// <summary>What results.json holds: the cells and how they were made.</summary>
/// <param name="Command">The command line that made it, to repeat it.</param>
/// <param name="Machine">Where it ran (processor count and operating system): seconds only compare within one machine.</param>
public sealed record EvaluationTable(string Prior, int Images, DateTimeOffset Finished, string Command, string Machine, IReadOnlyList<EvaluationCell> Cells);
