using DiffusionLab.Engine;
using System.Globalization;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using Spectre.Console;
using static TorchSharp.torch;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_Solve() => Register("solve",
        "run one experiment from a lab link's query string and write ground truth, measurement and result as PNGs",
        RunSolveAsync);

    static Task<int> RunSolveAsync(string[] args)
    {
        var options = new CliOptions(args);
        var query = options.String("spec", "");
        var outFolder = options.String("out", "solve-output");
        int every = options.Int("print-every", 25);
        if (every < 1) throw new CliUsageException("--print-every must be at least 1");

        var catalog = PriorCatalog.ForContentRoot(ContentRoot.Find(Directory.GetCurrentDirectory()));
        // Read as the lab reads its links: what this machine lacks is replaced, with a note; a link
        // that cannot be read at all is refused here rather than run as the default.
        var link = SpecLink.Read(query.Contains('?') ? query[(query.IndexOf('?') + 1)..] : query, new CatalogOfferings(catalog));
        if (!link.Readable) return Task.FromResult(ReportProblems(link.Problems));
        foreach (var note in link.Notes) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {note}");
        var spec = link.Spec;

        var runner = new Runner(catalog);
        PreparedRun run;
        try { run = runner.Prepare(spec); }
        catch (SpecException e) { return Task.FromResult(ReportProblems(e.Problems)); }

        using (run)
        {
            Directory.CreateDirectory(outFolder);
            ImageCodec.WriteFile(Path.Combine(outFolder, "ground-truth.png"), run.GroundTruth, scale: 4);
            ImageCodec.WriteFile(Path.Combine(outFolder, "measurement.png"), run.BackProjection.Clamped(-1, 1), scale: 4);
            AnsiConsole.MarkupLineInterpolated($"[bold]{run.Spec.Solver}[/] on [bold]{run.Spec.Corruption}[/], prior {run.Spec.Prior}, {run.Spec.Steps} steps, seed {run.Spec.Seed}");
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
        return Task.FromResult(0);
    }

    static int ReportProblems(IReadOnlyList<SpecProblem> problems)
    {
        foreach (var p in problems) AnsiConsole.MarkupLineInterpolated($"[red]{p.Field}:[/] {p.Message}");
        return 2;
    }
}
