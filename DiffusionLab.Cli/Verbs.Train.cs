using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using Spectre.Console;
using DiffusionLab.Engine.Diffusion;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_Train() => Register("train",
        "train a UNet prior: --data DIR (with train/ and heldout/) --out STATE_DIR --model-name NAME [--steps 20000 --batch 64 --lr 2e-4 --threads 1 --resume --sample-every 500 --checkpoint-every 200 --checkpoint-minutes 5 --config small32|tiny|FILE.json --init-from MODEL.json --export DIR --loss-weighting uniform|p2 --res-blocks N --classes --class-dropout 0.2]",
        TrainAsync);

    static Task<int> TrainAsync(string[] args)
    {
        var o = new CliOptions(args, "resume", "no-mirror", "classes");
        var data = o.String("data", "");
        var output = o.String("out", "");
        var name = o.String("model-name", "");
        if (data == "" || output == "" || name == "") throw new CliUsageException("train needs --data DIR, --out DIR and --model-name NAME");
        int totalSteps = o.Int("steps", 20000), threads = o.Int("threads", 1);
        int sampleEvery = o.Int("sample-every", 500), checkpointEvery = o.Int("checkpoint-every", 200), logEvery = o.Int("log-every", 20);
        double checkpointMinutes = o.Double("checkpoint-minutes", 5);
        var export = o.String("export", output);
        if (threads < 1) throw new CliUsageException("--threads must be at least 1");
        int? resBlocks = o.Has("res-blocks") ? o.Int("res-blocks", 0) : null;
        if (resBlocks is < 1 or > 8) throw new CliUsageException("--res-blocks takes 1 to 8 residual blocks per level");
        // --classes: learn the classes of DATA/classes.tsv too (a class-conditional prior for classifier-free guidance).
        var classList = o.Has("classes") ? ReadClasses(data) : null;
        TorchRuntime.SetThreads(threads);

        var trainFolder = Directory.Exists(Path.Combine(data, "train")) ? Path.Combine(data, "train") : data;
        var heldoutFolder = Path.Combine(data, "heldout");

        DdpmTrainer trainer;
        if (o.Has("resume") && DdpmTrainer.HasState(output))
        {
            trainer = DdpmTrainer.Resume(output, stored => stored with
            {
                BatchSize = o.Int("batch", stored.BatchSize),
                LearningRate = o.Double("lr", stored.LearningRate),
                LossWeighting = o.Has("loss-weighting") ? ParseWeighting(o.String("loss-weighting", "")) : stored.LossWeighting,
                ClassDropout = o.Double("class-dropout", stored.ClassDropout),
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
            var initCard = o.Has("init-from") ? Checkpoints.ReadCard(o.String("init-from", "")) : null;
            var config = initCard?.Config ?? ReadConfig(o.String("config", "small32"));
            if (resBlocks is int blocks)
            {
                // From a card the network can only grow: its blocks are kept and new ones start as identities.
                if (initCard is not null && blocks < initCard.Config.ResBlocksPerLevel)
                    throw new CliUsageException($"{o.String("init-from", "")} has {initCard.Config.ResBlocksPerLevel} residual blocks per level; --res-blocks can make it deeper, not shallower");
                config = config with { ResBlocksPerLevel = blocks };
            }
            if (classList is not null && config.ClassCount == 0) config = config with { ClassNames = [.. classList.Names] };
            int size = config.ImageSize;
            trainer = new DdpmTrainer(new TrainingOptions
            {
                ModelName = name,
                Config = config,
                BatchSize = o.Int("batch", 64),
                LearningRate = o.Double("lr", 2e-4),
                WarmupSteps = o.Int("warmup", 200),
                EmaRate = o.Double("ema", 0.999),
                Mirror = !o.Has("no-mirror"),
                Seed = o.Int("seed", 0),
                // Carrying on from a bundled model keeps the weighting its card records unless told otherwise.
                LossWeighting = o.Has("loss-weighting") ? ParseWeighting(o.String("loss-weighting", "")) : initCard?.LossWeighting ?? LossWeighting.Uniform,
                ClassDropout = o.Double("class-dropout", 0.2),
                Dataset = DescribeDataset(data, trainFolder, heldoutFolder),
            });
            if (initCard is not null)
            {
                using var start = Checkpoints.Load(o.String("init-from", ""));
                using var deeper = config.ResBlocksPerLevel > initCard.Config.ResBlocksPerLevel ? NetworkGrowth.Deepen(start, config.ResBlocksPerLevel) : null;
                using var withClasses = config.ClassCount > 0 && initCard.Config.ClassCount == 0 ? NetworkGrowth.WithClasses(deeper ?? start, config.ClassNames!) : null;
                trainer.StartFrom(withClasses ?? deeper ?? start, initCard.TrainingSteps);
                Console.WriteLine($"starting from {o.String("init-from", "")} (step {initCard.TrainingSteps}); the optimiser's moments start afresh" +
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
            return Task.FromResult(1);
        }
        Checkpoint();
        Console.WriteLine(stop.IsCancellationRequested ? $"stopped at step {trainer.Step}; resume with --resume" : $"finished {trainer.Step} steps");
        return Task.FromResult(0);
    }

    /// <summary>"t=50: 0.0911, t=250: 0.0174, …" for the log and the import report.</summary>
    internal static string FormatLoss(IReadOnlyDictionary<string, double> loss) => string.Join(", ", loss.Select(p => $"t={p.Key}: {p.Value:F4}"));

    /// <summary>The class list beside a data set's train/ and heldout/ folders, or a usage error that says how to get one.</summary>
    static ImageClasses ReadClasses(string data)
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

    /// <summary>The data folder's SOURCE.txt (written by tools/fetch-data.sh) says where the images came from and their licence.</summary>
    static DatasetInfo DescribeDataset(string data, string trainFolder, string heldoutFolder)
    {
        var sourceFile = Path.Combine(data, "SOURCE.txt");
        var source = File.Exists(sourceFile) ? File.ReadAllText(sourceFile).Trim() : data;
        int Count(string folder) => Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.png").Count() : 0;
        var licence = source.Contains("CC0", StringComparison.Ordinal) ? "CC0 1.0 (design), MIT (code)"
                    : source.Contains("Apache", StringComparison.Ordinal) ? "Apache-2.0 (images), MIT (package code)" : "see SOURCE.txt";
        return new DatasetInfo(Path.GetFileName(Path.GetFullPath(data).TrimEnd('/')), source, licence, Count(trainFolder), Count(heldoutFolder));
    }
}
