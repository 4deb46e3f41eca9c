using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Globalization;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class SolveVerb : Command<SolveVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--spec <QUERY>")]
        [Help("the run, as the query string of a lab link (a whole link works too); what it leaves out takes the lab's defaults: the default prior, its first gallery image")]
        [DefaultValue("")]
        public string Spec { get; set; } = "";

        [CommandOption("--out <DIR>")]
        [Help("folder for ground-truth.png, measurement.png and result.png")]
        [DefaultValue("solve-output")]
        public string Out { get; set; } = "solve-output";

        [CommandOption("--print-every <N>")]
        [Help("print the metrics every N steps (and at the last)")]
        [DefaultValue(25)]
        public int PrintEvery { get; set; } = 25;
    }

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        var query = options.Spec;
        var outFolder = options.Out;
        int every = options.PrintEvery;
        if (every < 1) throw new CliUsageException("--print-every must be at least 1");

        var location = options.Location();
        location.Report();
        var catalog = location.Priors();
        // Read as the lab reads its links: what this machine lacks is replaced, with a note; a link
        // that cannot be read at all is refused here rather than run as the default.
        var link = SpecLink.Read(query.Contains('?') ? query[(query.IndexOf('?') + 1)..] : query, new CatalogOfferings(catalog));
        if (!link.Readable) return ReportProblems(link.Problems);
        foreach (var note in link.Notes) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        var spec = link.Spec;

        var runner = new Runner(catalog);
        PreparedRun run;
        try { run = runner.Prepare(spec); }
        catch (SpecException e) { return ReportProblems(e.Problems); }

        using (run)
        {
            Directory.CreateDirectory(outFolder);
            ImageCodec.WriteFile(Path.Combine(outFolder, "ground-truth.png"), run.GroundTruth, scale: 4);
            ImageCodec.WriteFile(Path.Combine(outFolder, "measurement.png"), run.MeasurementPicture, scale: 4);
            AnsiConsole.MarkupLineInterpolated($"[bold]{run.Spec.Solver}[/] on [bold]{run.Spec.Corruption}[/], prior {run.Spec.Prior}, image {run.Spec.Image}, {run.Spec.Steps} steps, seed {run.Spec.Seed}");
            if (run.Naive is { } naive)
                AnsiConsole.MarkupLineInterpolated($"from y alone ({naive.Name}): PSNR {naive.Psnr.ToString("0.00", CultureInfo.InvariantCulture)} dB  SSIM {naive.Ssim.ToString("0.000", CultureInfo.InvariantCulture)}");
            StepRecord? last = null;
            foreach (var step in runner.Run(run))
            {
                if (step.Step % every == 0 || step.IsFinal)
                    AnsiConsole.MarkupLineInterpolated(
                        $"step {step.Step + 1,4}/{step.Total}  t={step.Timestep,4}  residual {step.Residual.ToString("0.000", CultureInfo.InvariantCulture)}  PSNR {step.Psnr.ToString("0.00", CultureInfo.InvariantCulture)} dB  SSIM {step.Ssim.ToString("0.000", CultureInfo.InvariantCulture)}  {step.ElapsedMs / 1000:0.0} s");
                last = step;
            }
            if (last?.X0Hat?.Pixels is { } result)
            {
                using var batch = result.ToTensor();
                ImageCodec.WriteFile(Path.Combine(outFolder, "result.png"), batch.Clamped(-1, 1), scale: 4);
            }
            AnsiConsole.MarkupLineInterpolated($"wrote ground-truth.png, measurement.png and result.png to {outFolder}");
        }
        return 0;
    }

    static int ReportProblems(IReadOnlyList<SpecProblem> problems)
    {
        foreach (var p in problems) AnsiConsole.MarkupLineInterpolated($"[red]{p.Field}:[/] {p.Message}");
        return 2;
    }
}
