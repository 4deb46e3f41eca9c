using DiffusionLab.Engine.Training;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Globalization;

namespace DiffusionLab.Cli;

/// <summary>
/// A train-vae or train-gan run's history in a form small enough to ship beside the page: the losses
/// averaged into a few hundred points, their charts, and a few of the fixed-code grids spread over the
/// run, the first and the last among them. The training state itself (networks, moments) stays behind.
/// </summary>
sealed class GeneratorHistoryVerb : Command<GeneratorHistoryVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--state <DIR>")]
        [Help("the training state of a train-vae or train-gan run (its history.csv and samples/) (required)")]
        public string? State { get; set; }

        [CommandOption("--out <DIR>")]
        [Help("where history.csv, losses.svg (and logits.svg for a GAN) and grid-NNNNNN.png go (required)")]
        public string? Out { get; set; }

        [CommandOption("--title <TEXT>")]
        [Help("the charts' title (default: the state folder's name)")]
        public string? Title { get; set; }

        [CommandOption("--grids <N>")]
        [Help("sample grids to copy, spread evenly over the run")]
        [DefaultValue(6)]
        public int Grids { get; set; } = 6;

        [CommandOption("--points <N>")]
        [Help("about how many averaged points the shipped history keeps")]
        [DefaultValue(300)]
        public int Points { get; set; } = 300;
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.State is not { } state || o.Out is not { } output) throw new CliUsageException("generator-history needs --state DIR and --out DIR");
        if (o.Grids < 0) throw new CliUsageException("--grids must be 0 or more");
        if (o.Points < 1) throw new CliUsageException("--points must be at least 1");
        if (!File.Exists(Path.Combine(state, GeneratorHistory.FileName))) throw new CliUsageException($"{state} has no {GeneratorHistory.FileName}: not the state of a train-vae or train-gan run");
        var steps = GeneratorHistory.Read(state);
        if (steps.Count == 0) throw new CliUsageException($"{state} has no training history yet");
        var samples = Path.Combine(state, "samples");
        var grids = Directory.Exists(samples)
            ? Directory.GetFiles(samples, "step-*.png").Select(f => Path.GetFileNameWithoutExtension(f)[5..])
                .Where(s => long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out _)).Select(s => long.Parse(s, CultureInfo.InvariantCulture)).Order().ToList()
            : [];
        int take = Math.Min(o.Grids, grids.Count);
        var chosen = Enumerable.Range(0, take).Select(i => grids[take == 1 ? grids.Count - 1 : (int)Math.Round(i * (grids.Count - 1) / (take - 1.0))]).Distinct();
        int bucket = Math.Max(1, (int)Math.Ceiling(steps.Count / (double)o.Points));
        var title = o.Title ?? Path.GetFileName(Path.GetFullPath(state).TrimEnd('/'));
        try
        {
            var written = GeneratorHistory.Bundle(state, output, title, bucket, chosen);
            Console.WriteLine($"{steps.Count} steps (to step {steps[^1].Step}) in buckets of {bucket}: wrote {string.Join(", ", written)} to {output}");
        }
        catch (TrainingException e) { throw new CliUsageException(e.Message); }
        return 0;
    }
}
