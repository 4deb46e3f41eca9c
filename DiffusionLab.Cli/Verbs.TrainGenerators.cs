using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace DiffusionLab.Cli;

/// <summary>
/// What train-vae and train-gan add to every training verb's options: the generator's size (a
/// resumed run keeps its own). Sample grids are always of the same fixed codes, so grids from
/// different steps compare.
/// </summary>
class GeneratorTrainSettings : TrainingSettings
{
    [CommandOption("--image-size <N>")]
    [Help("side of the square images, a power of two from 8 (default 32; a resumed run keeps its own)")]
    public int? ImageSize { get; set; }

    [CommandOption("--latent <N>")]
    [Help("length of the code z (default 64; a resumed run keeps its own)")]
    public int? Latent { get; set; }

    [CommandOption("--width <N>")]
    [Help("channels of the generator's last hidden map; the others are multiples of it (default 64; a resumed run keeps its own)")]
    public int? Width { get; set; }
}

sealed class TrainVaeVerb : Command<TrainVaeVerb.Settings>
{
    public sealed class Settings : GeneratorTrainSettings
    {
        [CommandOption("--steps <N>")]
        [Help("train until this step")]
        [DefaultValue(12000)]
        public int Steps { get; set; } = 12000;

        [CommandOption("--lr <RATE>")]
        [Help("Adam's learning rate (default 5e-4; a resumed run keeps its own unless given)")]
        public double? LearningRate { get; set; }

        [CommandOption("--beta <BETA>")]
        [Help("weight of the KL term: 1 is the ELBO, below 1 sharper reconstructions and a less regular latent space (a resumed run keeps its own)")]
        public double? Beta { get; set; }

        [CommandOption("--sigma-x <SIGMA>")]
        [Help("σ_x of the Gaussian likelihood in the images' [-1, 1] scale (default 0.1; a resumed run keeps its own)")]
        public double? SigmaX { get; set; }
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.Beta is { } beta && !(beta >= 0 && double.IsFinite(beta))) throw new CliUsageException($"--beta must be a finite number of at least 0, not {beta}");
        if (o.SigmaX is { } sigma && !(sigma > 0 && double.IsFinite(sigma))) throw new CliUsageException($"--sigma-x must be a positive finite number, not {sigma}");
        return GeneratorTrainingConsole.Run("train-vae", o, GeneratorFamily.Vae, o.Steps, o.LearningRate, job => job with
        {
            Beta = o.Beta ?? 1,
            ReconstructionSigma = o.SigmaX ?? 0.1,
        }, resumedKeeps: o.Beta is not null || o.SigmaX is not null ? "its β and σ_x" : null);
    }
}

sealed class TrainGanVerb : Command<TrainGanVerb.Settings>
{
    public sealed class Settings : GeneratorTrainSettings
    {
        [CommandOption("--objective <NAME>")]
        [Help("stable: hinge loss with a spectrally normalised discriminator (the usable prior); plain: the non-saturating loss of Goodfellow et al., no normalisation (its instability is the point)")]
        [DefaultValue("stable")]
        public string Objective { get; set; } = "stable";

        [CommandOption("--steps <N>")]
        [Help("train until this step")]
        [DefaultValue(30000)]
        public int Steps { get; set; } = 30000;

        [CommandOption("--lr <RATE>")]
        [Help("Adam's learning rate for both players (default 2e-4; a resumed run keeps its own unless given)")]
        public double? LearningRate { get; set; }
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        var family = o.Objective.ToLowerInvariant() switch
        {
            "stable" => GeneratorFamily.StableGan,
            "plain" => GeneratorFamily.PlainGan,
            _ => throw new CliUsageException($"--objective must be plain or stable, not '{o.Objective}'"),
        };
        return GeneratorTrainingConsole.Run("train-gan", o, family, o.Steps, o.LearningRate, job => job, resumedKeeps: null);
    }
}

/// <summary>The training loop of train-vae and train-gan on the console: checks, the job, progress and stopping.</summary>
static class GeneratorTrainingConsole
{
    const string StateFile = "training-state.json";

    public static int Run(string verb, GeneratorTrainSettings o, GeneratorFamily family, long totalSteps, double? learningRate,
        Func<GeneratorTrainingJob, GeneratorTrainingJob> specific, string? resumedKeeps)
    {
        if (o.Data is not { } data || o.Out is not { } output || o.ModelName is not { } name)
            throw new CliUsageException($"{verb} needs --data DIR, --out DIR and --model-name NAME");
        if (totalSteps < 1) throw new CliUsageException("--steps must be at least 1");
        if (learningRate is { } lr && !(lr > 0 && double.IsFinite(lr))) throw new CliUsageException($"--lr must be a positive finite number, not {lr}");
        if (o.Batch is < 1 or > 4096) throw new CliUsageException("--batch must be between 1 and 4096");
        if (o.Threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (o.CheckpointEvery < 1 || o.LogEvery < 1) throw new CliUsageException("--checkpoint-every and --log-every must be at least 1");
        if (o.SampleEvery < 0) throw new CliUsageException("--sample-every must be 0 or more");
        if (!(o.CheckpointMinutes > 0) || double.IsInfinity(o.CheckpointMinutes)) throw new CliUsageException("--checkpoint-minutes must be a positive number");
        if (name.Length == 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(' '))
            throw new CliUsageException($"--model-name must be a plain file name (letters, digits, dashes), not '{name}'");
        if (!Directory.Exists(data)) throw new CliUsageException($"--data {data}: no such folder");

        bool hasState = File.Exists(Path.Combine(output, StateFile));
        if (hasState && !o.Resume) throw new CliUsageException($"{output} already holds a training state: add --resume to continue it, or choose another --out");
        var config = GeneratorConfig.Faces32;
        if (hasState)
        {
            if (o.ImageSize is not null || o.Latent is not null || o.Width is not null || resumedKeeps is not null)
                throw new CliUsageException($"{output} holds a training state and a resumed run keeps its architecture{(resumedKeeps is null ? "" : $" and {resumedKeeps}")}; drop --image-size, --latent, --width{(resumedKeeps is null ? "" : ", --beta, --sigma-x")} or choose another --out");
        }
        else
        {
            config = new GeneratorConfig(o.ImageSize ?? config.ImageSize, config.Channels, o.Latent ?? config.LatentDimension, o.Width ?? config.Width);
            if (config.Problems() is { Count: > 0 } problems) throw new CliUsageException(string.Join("; ", problems));
        }
        TorchRuntime.SetThreads(o.Threads);

        using var stop = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; stop.Cancel(); };
        Console.CancelKeyPress += onCancel;
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

        bool interactive = !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;
        var job = specific(new GeneratorTrainingJob
        {
            Family = family,
            ModelName = name,
            Data = data,
            StateFolder = output,
            ExportFolder = o.Export,
            Config = config,
            TotalSteps = totalSteps,
            BatchSize = o.Batch,
            LearningRate = learningRate,
            Seed = o.Seed,
            CheckpointEverySteps = o.CheckpointEvery,
            CheckpointMinutes = o.CheckpointMinutes,
            SampleEvery = o.SampleEvery,
            ReportEvery = interactive ? 1 : o.LogEvery,
        });
        try
        {
            if (!interactive)
            {
                GeneratorTraining.Run(job, message => Console.WriteLine(message),
                    p => Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} step {p.Step}/{p.TotalSteps} {GeneratorTraining.Describe(p.Losses)} {p.StepsPerSecond:F2} steps/s ETA {Eta(p)}"),
                    stop.Token);
            }
            else
            {
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(progress =>
                    {
                        ProgressTask? task = null;
                        GeneratorTraining.Run(job, message => AnsiConsole.WriteLine(message), p =>
                        {
                            task ??= progress.AddTask(name, maxValue: p.TotalSteps);
                            task.Value = p.Step;
                            task.Description = Markup.Escape($"{name} step {p.Step} {GeneratorTraining.Describe(p.Losses)} {p.StepsPerSecond:F2} steps/s ETA {Eta(p)}");
                        }, stop.Token);
                    });
            }
        }
        catch (TrainingException e)
        {
            // Non-finite losses, a state of another kind, an unreadable state: one line, no stack trace.
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
        catch (Exception e) when (e is InvalidDataException or DirectoryNotFoundException)
        {
            throw new CliUsageException(e.Message);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        if (stop.IsCancellationRequested) Console.WriteLine($"to continue: the same command with --resume");
        return 0;
    }

    static string Eta(GeneratorProgress p) => p.Remaining is { } remaining ? remaining.ToString(@"d\.hh\:mm\:ss") : "?";
}
