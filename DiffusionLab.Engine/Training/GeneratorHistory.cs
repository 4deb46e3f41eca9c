using DiffusionLab.Engine.Imaging;
using System.Globalization;
using System.Text;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// A training run's history in a form small enough to ship: the per-step losses averaged over
/// buckets of steps, a chart of them, and a few of the fixed-noise grids, so the run can be shown
/// without its (large) training state.
/// </summary>
public static class GeneratorHistory
{
    /// <summary>The history's file in a training state's folder.</summary>
    public const string FileName = "history.csv";

    /// <summary>Every step's losses recorded in <paramref name="folder"/>'s history, oldest first.</summary>
    public static List<GeneratorStep> Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return [];
        var lines = File.ReadAllLines(path);
        var names = lines[0].Split(',')[1..];
        return lines.Skip(1).Where(l => l.Length > 0).Select(line =>
        {
            var cells = line.Split(',');
            var losses = new Dictionary<string, double>();
            for (int i = 0; i < names.Length; i++) losses[names[i]] = double.Parse(cells[i + 1], CultureInfo.InvariantCulture);
            return new GeneratorStep(long.Parse(cells[0], CultureInfo.InvariantCulture), losses);
        }).ToList();
    }

    /// <summary>The mean of each loss over consecutive buckets of <paramref name="bucket"/> steps, each labelled with its last step.</summary>
    public static List<GeneratorStep> Summarise(IReadOnlyList<GeneratorStep> steps, int bucket)
    {
        if (bucket < 1) throw new ArgumentOutOfRangeException(nameof(bucket), "a bucket holds at least one step");
        var result = new List<GeneratorStep>();
        for (int start = 0; start < steps.Count; start += bucket)
        {
            var part = steps.Skip(start).Take(bucket).ToList();
            result.Add(new GeneratorStep(part[^1].Step, part[0].Losses.Keys.ToDictionary(name => name, name => part.Average(s => s.Losses[name]))));
        }
        return result;
    }

    /// <summary>The history as CSV (step, then one column per loss), as <see cref="Read"/> reads it.</summary>
    public static string ToCsv(IReadOnlyList<GeneratorStep> steps)
    {
        if (steps.Count == 0) return "step\n";
        var names = steps[0].Losses.Keys.ToList();
        var text = new StringBuilder("step,").AppendJoin(',', names).Append('\n');
        foreach (var step in steps)
            text.Append(step.Step.ToString(CultureInfo.InvariantCulture)).Append(',')
                .AppendJoin(',', names.Select(n => step.Losses[n].ToString("G5", CultureInfo.InvariantCulture))).Append('\n');
        return text.ToString();
    }

    static readonly string[] Colours = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"];

    /// <summary>An SVG chart of the named losses against the step.</summary>
    public static string Chart(string title, IReadOnlyList<GeneratorStep> steps, IReadOnlyList<string> names) =>
        LineChartSvg.Render(title, "training step", names.Select((name, i) =>
            new ChartSeries(name, Colours[i % Colours.Length], steps.Select(s => ((double)s.Step, s.Losses[name])).ToList())).ToList());

    /// <summary>
    /// Writes &lt;output&gt;/history.csv (losses averaged over <paramref name="bucket"/> steps), losses.svg and logits.svg
    /// for a GAN (the players' losses; the discriminator's mean logits on real and generated images) or losses.svg for a VAE,
    /// and copies the state's sample grids at <paramref name="gridSteps"/> (those that exist) as grid-NNNNNN.png.
    /// </summary>
    public static IReadOnlyList<string> Bundle(string stateFolder, string output, string title, int bucket, IEnumerable<long> gridSteps)
    {
        var steps = Summarise(Read(stateFolder), bucket);
        if (steps.Count == 0) throw new TrainingException($"{stateFolder} has no training history yet");
        Directory.CreateDirectory(output);
        var written = new List<string>();
        void Write(string name, string text)
        {
            File.WriteAllText(Path.Combine(output, name), text);
            written.Add(name);
        }
        Write(FileName, ToCsv(steps));
        var names = steps[0].Losses.Keys.ToList();
        if (names.Contains("d_loss"))
        {
            Write("losses.svg", Chart($"{title}: the players' losses (mean of each {bucket} steps)", steps, ["d_loss", "g_loss"]));
            Write("logits.svg", Chart($"{title}: the discriminator's mean logit on real and on generated images", steps, ["d_real", "d_fake"]));
        }
        else Write("losses.svg", Chart($"{title}: loss terms (mean of each {bucket} steps)", steps, names.Where(n => n is "reconstruction" or "kl").ToList()));
        foreach (var step in gridSteps)
        {
            var grid = Path.Combine(stateFolder, "samples", $"step-{step:D6}.png");
            if (!File.Exists(grid)) continue;
            File.Copy(grid, Path.Combine(output, $"grid-{step:D6}.png"), overwrite: true);
            written.Add($"grid-{step:D6}.png");
        }
        return written;
    }
}
