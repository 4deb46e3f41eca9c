using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace DiffusionLab.Cli;

/// <summary>
/// The options every training verb (train, train-vae, train-gan) shares: where the images and the
/// state are, the name of the export, the batch, seed and threads, resuming, and how often it
/// writes sample grids, checkpoints and log lines.
/// </summary>
class TrainingSettings : DeviceSettings
{
    [CommandOption("--data <DIR>")]
    [Help("the images: a folder with train/ and heldout/ (or a folder of PNGs to train on) (required)")]
    public string? Data { get; set; }

    [CommandOption("--out <DIR>")]
    [Help("the training state: weights, optimiser moments, history, sample grids (required)")]
    public string? Out { get; set; }

    [CommandOption("--model-name <NAME>")]
    [Help("the name the exported card and weights get (required)")]
    public string? ModelName { get; set; }

    [CommandOption("--batch <N>")]
    [Help("images per step (default 64; a resumed run keeps its own unless given)")]
    public int? Batch { get; set; }

    [CommandOption("--seed <N>")]
    [Help("seed of the initial weights, the batches and the noise")]
    [DefaultValue(0)]
    public int Seed { get; set; }

    [CommandOption("--threads <N>")]
    [Help("libtorch intra-op threads")]
    [DefaultValue(1)]
    public int Threads { get; set; } = 1;

    [CommandOption("--resume")]
    [Help("continue the state in --out if there is one")]
    public bool Resume { get; set; }

    [CommandOption("--sample-every <STEPS>")]
    [Help("write a grid of samples every so many steps (0: none along the way)")]
    [DefaultValue(500)]
    public int SampleEvery { get; set; } = 500;

    [CommandOption("--checkpoint-every <STEPS>")]
    [Help("save the state and export every so many steps")]
    [DefaultValue(200)]
    public int CheckpointEvery { get; set; } = 200;

    [CommandOption("--checkpoint-minutes <MIN>")]
    [Help("... and at least this often")]
    [DefaultValue(5.0)]
    public double CheckpointMinutes { get; set; } = 5;

    [CommandOption("--log-every <STEPS>")]
    [Help("a log line every so many steps when the output is not a terminal")]
    [DefaultValue(20)]
    public int LogEvery { get; set; } = 20;

    [CommandOption("--export <DIR>")]
    [Help("where the card and the exported weights go at each checkpoint (default: --out)")]
    public string? Export { get; set; }
}

sealed class TrainVerb : Command<TrainVerb.Settings>
{
    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--steps <N>")]
        [Help("train until this step")]
        [DefaultValue(20000)]
        public int Steps { get; set; } = 20000;

        [CommandOption("--lr <RATE>")]
        [Help("learning rate (default 2e-4; a resumed run keeps its own unless given)")]
        public double? LearningRate { get; set; }

        [CommandOption("--warmup <STEPS>")]
        [Help("steps of linear learning-rate warm-up")]
        [DefaultValue(200)]
        public int Warmup { get; set; } = 200;

        [CommandOption("--ema <RATE>")]
        [Help("decay of the exponential moving average of the weights (what is exported)")]
        [DefaultValue(0.999)]
        public double Ema { get; set; } = 0.999;

        [CommandOption("--no-mirror")]
        [Help("do not flip training images left-right at random")]
        public bool NoMirror { get; set; }

        [CommandOption("--config <NAME>")]
        [Help("the architecture: small32, tiny or a JSON file of a UNet config")]
        [DefaultValue("small32")]
        public string Config { get; set; } = "small32";

        [CommandOption("--init-from <CARD>")]
        [Help("start a new --out from this exported model card (its weights and step; the optimiser starts afresh)")]
        public string? InitFrom { get; set; }

        [CommandOption("--res-blocks <N>")]
        [Help("residual blocks per level, 1 to 8 (from --init-from: the network can grow, new blocks start as identities)")]
        public int? ResBlocks { get; set; }

        [CommandOption("--classes")]
        [Help("learn the classes of DATA/classes.tsv too (a class-conditional prior for classifier-free guidance)")]
        public bool Classes { get; set; }

        [CommandOption("--class-dropout <P>")]
        [Help("share of samples trained without their class (default 0.2; a resumed run keeps its own unless given)")]
        public double? ClassDropout { get; set; }

        [CommandOption("--loss-weighting <NAME>")]
        [Help("uniform or p2 (default: uniform, or what the --init-from card or resumed run used)")]
        public string? LossWeighting { get; set; }
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.Data is not { } data || o.Out is not { } output || o.ModelName is not { } name)
            throw new CliUsageException("train needs --data DIR, --out DIR and --model-name NAME");
        int totalSteps = o.Steps, threads = o.Threads;
        int sampleEvery = o.SampleEvery, checkpointEvery = o.CheckpointEvery, logEvery = o.LogEvery;
        double checkpointMinutes = o.CheckpointMinutes;
        var export = o.Export ?? output;
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (checkpointEvery < 1 || logEvery < 1) throw new CliUsageException("--checkpoint-every and --log-every must be at least 1");
        int? resBlocks = o.ResBlocks;
        if (resBlocks is < 1 or > 8) throw new CliUsageException("--res-blocks takes 1 to 8 residual blocks per level");
        // --classes: learn the classes of DATA/classes.tsv too (a class-conditional prior for classifier-free guidance).
        var classList = o.Classes ? ReadClasses(data) : null;
        TorchRuntime.SetThreads(threads);

        var trainFolder = Directory.Exists(Path.Combine(data, "train")) ? Path.Combine(data, "train") : data;
        var heldoutFolder = Path.Combine(data, "heldout");

        DdpmTrainer trainer;
        if (o.Resume && DdpmTrainer.HasState(output))
        {
            trainer = DdpmTrainer.Resume(output, stored => stored with
            {
                BatchSize = o.Batch ?? stored.BatchSize,
                LearningRate = o.LearningRate ?? stored.LearningRate,
                LossWeighting = o.LossWeighting is { } weighting ? ParseWeighting(weighting) : stored.LossWeighting,
                ClassDropout = o.ClassDropout ?? stored.ClassDropout,
            });
            if (classList is not null && trainer.Options.Config.ClassCount == 0)
            {
                trainer.Dispose();
                throw new CliUsageException($"{output} trains an unconditional network and a resumed run keeps its architecture; to add classes, export it and start a new --out with --init-from CARD.json --classes");
            }
            int storedBlocks = trainer.Options.Config.ResBlocksPerLevel;
            if (resBlocks is int blocks && blocks != storedBlocks)
            {
                trainer.Dispose();
                throw new CliUsageException($"{output} trains a network with {storedBlocks} residual blocks per level and a resumed run keeps its architecture; to deepen it, export it and start a new --out with --init-from CARD.json --res-blocks {blocks}");
            }
            Console.WriteLine($"resumed {trainer.Options.ModelName} at step {trainer.Step} from {output}");
        }
        else
        {
            if (DdpmTrainer.HasState(output)) throw new CliUsageException($"{output} already holds a training state: add --resume to continue it, or choose another --out");
            // --init-from CARD.json: carry on from a bundled checkpoint when the full state is not at hand.
            var initCard = o.InitFrom is { } initFrom ? Checkpoints.ReadCard(initFrom) : null;
            var config = initCard?.Config ?? ReadConfig(o.Config);
            if (resBlocks is int blocks)
            {
                // From a card the network can only grow: its blocks are kept and new ones start as identities.
                if (initCard is not null && blocks < initCard.Config.ResBlocksPerLevel)
                    throw new CliUsageException($"{o.InitFrom} has {initCard.Config.ResBlocksPerLevel} residual blocks per level; --res-blocks can make it deeper, not shallower");
                config = config with { ResBlocksPerLevel = blocks };
            }
            if (classList is not null && config.ClassCount == 0) config = config with { ClassNames = [.. classList.Names] };
            int size = config.ImageSize;
            trainer = new DdpmTrainer(new TrainingOptions
            {
                ModelName = name,
                Config = config,
                BatchSize = o.Batch ?? 64,
                LearningRate = o.LearningRate ?? 2e-4,
                WarmupSteps = o.Warmup,
                EmaRate = o.Ema,
                Mirror = !o.NoMirror,
                Seed = o.Seed,
                // Carrying on from a bundled model keeps the weighting its card records unless told otherwise.
                LossWeighting = o.LossWeighting is { } weighting ? ParseWeighting(weighting) : initCard?.LossWeighting ?? LossWeighting.Uniform,
                ClassDropout = o.ClassDropout ?? 0.2,
                Dataset = GeneratorTraining.DescribeDataset(data, trainFolder, heldoutFolder),
            });
            if (initCard is not null && o.InitFrom is { } initCardPath)
            {
                using var start = Checkpoints.Load(initCardPath);
                using var deeper = config.ResBlocksPerLevel > initCard.Config.ResBlocksPerLevel ? NetworkGrowth.Deepen(start, config.ResBlocksPerLevel) : null;
                using var withClasses = config.ClassCount > 0 && initCard.Config.ClassCount == 0 ? NetworkGrowth.WithClasses(deeper ?? start, config.ClassNames!) : null;
                trainer.StartFrom(withClasses ?? deeper ?? start, initCard.TrainingSteps);
                Console.WriteLine($"starting from {initCardPath} (step {initCard.TrainingSteps}); the optimiser's moments start afresh" +
                    (deeper is null ? "" : $"; deepened from {initCard.Config.ResBlocksPerLevel} to {config.ResBlocksPerLevel} residual blocks per level (the new blocks start as identities)") +
                    (withClasses is null ? "" : $"; learning {config.ClassCount} classes from here (the class embedding starts at zero)"));
            }
        }
        using var _ = trainer;
        var options = trainer.Options;
        Console.WriteLine($"{options.ModelName}: {trainer.Model.ParameterCount:N0} parameters, config {JsonSerializer.Serialize(options.Config)}, {TorchRuntime.Threads} thread(s), loss weighting {options.LossWeighting}");

        // A class-conditional run reads each image's class. The held-out loss stays the unconditional one (comparable with
        // earlier cards); a second one, told each held-out image's class, shows how much the network uses it.
        var imageClasses = options.Config.ClassCount > 0 ? classList ?? ReadClasses(data) : null;
        if (imageClasses is not null)
            Console.WriteLine($"classes ({options.Config.ClassCount}, each dropped for {options.ClassDropout:P0} of samples): {string.Join(", ", options.Config.ClassNames!)}");
        ImageFolderDataset LoadSet(string folder, ImageClasses? classes, int limit = int.MaxValue)
        {
            try { return ImageFolderDataset.Load(folder, options.Config.ImageSize, options.Config.Channels, limit, classes); }
            catch (Exception e) when (e is InvalidDataException or DirectoryNotFoundException) { throw new CliUsageException(e.Message); }
        }
        using var train = LoadSet(trainFolder, imageClasses);
        using var heldout = Directory.Exists(heldoutFolder) ? LoadSet(heldoutFolder, imageClasses, limit: 256) : null;
        Console.WriteLine($"data: {train.Count} training images from {trainFolder}" + (heldout is null ? " (no heldout/ folder)" : $", {heldout.Count} held out"));

        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });

        var samplesFolder = Path.Combine(output, "samples");
        var clock = Stopwatch.StartNew();
        var lastCheckpoint = Stopwatch.StartNew();
        long startStep = trainer.Step;
        double smoothedLoss = double.NaN;

        void Checkpoint()
        {
            trainer.SaveState(output);
            var loss = heldout is null ? new Dictionary<string, double>() : trainer.HeldoutLoss(heldout);
            var classLoss = heldout is null || imageClasses is null ? null : trainer.HeldoutLoss(heldout, withClasses: true);
            trainer.Export(export, loss, classHeldoutLoss: classLoss);
            lastCheckpoint.Restart();
            Console.WriteLine($"checkpoint at step {trainer.Step}: held-out loss {FormatLoss(loss)}" + (classLoss is null ? "" : $"; told the class {FormatLoss(classLoss)}"));
        }

        void RunSteps(Action<TrainingStep> report)
        {
            while (trainer.Step < totalSteps && !stop.IsCancellationRequested)
            {
                var step = trainer.TrainStep(train);
                smoothedLoss = double.IsNaN(smoothedLoss) ? step.Loss : 0.98 * smoothedLoss + 0.02 * step.Loss;
                report(step);
                if (step.Skipped) { Console.WriteLine($"step {step.Step}: gradients not finite, step skipped"); continue; }
                if (trainer.Step % checkpointEvery == 0 || lastCheckpoint.Elapsed.TotalMinutes >= checkpointMinutes) Checkpoint();
                if (sampleEvery > 0 && trainer.Step % sampleEvery == 0)
                    trainer.WriteSampleGrid(Path.Combine(samplesFolder, $"step-{trainer.Step:D6}.png"));
            }
        }

        string Rate(long step, out string eta)
        {
            double perSecond = (step - startStep) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            eta = perSecond > 0 ? TimeSpan.FromSeconds((totalSteps - step) / perSecond).ToString(@"d\.hh\:mm\:ss") : "?";
            return $"{perSecond:F2}";
        }

        try
        {
            if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
            {
                RunSteps(step =>
                {
                    if (step.Step % logEvery != 0) return;
                    var rate = Rate(step.Step, out var eta);
                    Console.WriteLine($"{DateTime.UtcNow:HH:mm:ss} step {step.Step}/{totalSteps} loss {step.Loss:F4} (smoothed {smoothedLoss:F4}) |grad| {step.GradientNorm:F2} lr {trainer.LearningRateAt(step.Step):G3} {rate} steps/s ETA {eta}");
                });
            }
            else
            {
                AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(context =>
                    {
                        var task = context.AddTask(options.ModelName, maxValue: totalSteps);
                        task.Value = trainer.Step;
                        RunSteps(step =>
                        {
                            var rate = Rate(step.Step, out var eta);
                            task.Value = step.Step;
                            task.Description = $"{options.ModelName} step {step.Step} loss {smoothedLoss:F4} {rate} steps/s ETA {eta}";
                        });
                    });
            }
        }
        catch (TrainingException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
        Checkpoint();
        Console.WriteLine(stop.IsCancellationRequested ? $"stopped at step {trainer.Step}; resume with --resume" : $"finished {trainer.Step} steps");
        return 0;
    }

    /// <summary>"t=50: 0.0911, t=250: 0.0174, …" for the log and the import report.</summary>
    internal static string FormatLoss(IReadOnlyDictionary<string, double> loss) => string.Join(", ", loss.Select(p => $"t={p.Key}: {p.Value:F4}"));

    /// <summary>The class list beside a data set's train/ and heldout/ folders, or a usage error that says how to get one.</summary>
    internal static ImageClasses ReadClasses(string data)
    {
        var path = Path.Combine(data, ImageClasses.FileName);
        if (!File.Exists(path)) throw new CliUsageException($"a class-conditional model needs {path} (one line per image: file name, a tab, its class); tools/fetch-data.sh writes it for the emoji");
        try { return ImageClasses.Read(path); }
        catch (InvalidDataException e) { throw new CliUsageException(e.Message); }
    }

    static LossWeighting ParseWeighting(string value) => value.ToLowerInvariant() switch
    {
        "uniform" => LossWeighting.Uniform,
        "p2" => LossWeighting.P2,
        _ => throw new CliUsageException($"--loss-weighting must be uniform or p2, not '{value}'"),
    };

    static UNetConfig ReadConfig(string value) => value switch
    {
        "small32" => UNetConfig.Small32,
        "tiny" => UNetConfig.Tiny(32),
        _ when File.Exists(value) => JsonSerializer.Deserialize<UNetConfig>(File.ReadAllText(value), ModelCard.Json)
                                     ?? throw new CliUsageException($"--config {value}: empty file"),
        _ => throw new CliUsageException($"--config must be small32, tiny or a JSON file, not '{value}'"),
    };
}
