using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Priors;
using System.Diagnostics;
using System.Globalization;

namespace DiffusionLab.Engine.Training;

/// <summary>Which generator a training job trains.</summary>
public enum GeneratorFamily
{
    Vae,
    /// <summary>A GAN with the non-saturating loss and a plain discriminator.</summary>
    PlainGan,
    /// <summary>A GAN with the hinge loss and a spectrally normalised discriminator.</summary>
    StableGan,
}

/// <summary>A VAE or GAN training job: what to train, on which data, where its state and exports go, and how often it checkpoints.</summary>
public sealed record GeneratorTrainingJob
{
    public required GeneratorFamily Family { get; init; }
    public required string ModelName { get; init; }
    /// <summary>A data folder with train/ and heldout/ (or a folder of images).</summary>
    public required string Data { get; init; }
    /// <summary>The training state's folder (resumed when it holds one).</summary>
    public required string StateFolder { get; init; }
    /// <summary>Where the model and its card are exported at each checkpoint (the state folder when null).</summary>
    public string? ExportFolder { get; init; }
    public GeneratorConfig Config { get; init; } = GeneratorConfig.Faces32;
    public long TotalSteps { get; init; } = 10_000;
    public int? BatchSize { get; init; }
    public double? LearningRate { get; init; }
    /// <summary>The VAE's β (ignored for a GAN).</summary>
    public double Beta { get; init; } = 1;
    /// <summary>The VAE's σ_x (ignored for a GAN).</summary>
    public double ReconstructionSigma { get; init; } = 0.1;
    public long Seed { get; init; } = 0;
    public int CheckpointEverySteps { get; init; } = 1000;
    public double CheckpointMinutes { get; init; } = 5;
    /// <summary>Steps between fixed-noise sample grids (0: none but the first and the last).</summary>
    public int SampleEvery { get; init; } = 500;
    /// <summary>Steps between progress reports.</summary>
    public int ReportEvery { get; init; } = 10;
    /// <summary>Images of the training folder to use at most (tests use a few).</summary>
    public int ImageLimit { get; init; } = int.MaxValue;
}

/// <summary>Where a training job stands, for a progress display.</summary>
/// <param name="Losses">Each loss smoothed over recent steps (an exponential average with weight 0.02 per step).</param>
public sealed record GeneratorProgress(long Step, long TotalSteps, IReadOnlyDictionary<string, double> Losses, double StepsPerSecond, TimeSpan? Remaining);

/// <summary>
/// Runs a <see cref="GeneratorTrainingJob"/>: builds the trainer or resumes it from its state folder,
/// trains until the step count or a cancellation, checkpoints (state, history, export with card)
/// every so many steps or minutes and at the end, and writes fixed-noise sample grids to
/// &lt;state&gt;/samples/ along the way. Messages meant for the person go to <c>log</c>, progress to <c>progress</c>.
/// </summary>
public static class GeneratorTraining
{
    public static int Run(GeneratorTrainingJob job, Action<string> log, Action<GeneratorProgress>? progress = null, CancellationToken stop = default)
    {
        var trainFolder = Directory.Exists(Path.Combine(job.Data, "train")) ? Path.Combine(job.Data, "train") : job.Data;
        var heldoutFolder = Path.Combine(job.Data, "heldout");
        using var trainer = Open(job, DescribeDataset(job.Data, trainFolder, heldoutFolder), log);
        var config = trainer.Generator.Config;
        using var train = ImageFolderDataset.Load(trainFolder, config.ImageSize, config.Channels, job.ImageLimit);
        using var heldout = Directory.Exists(heldoutFolder) ? ImageFolderDataset.Load(heldoutFolder, config.ImageSize, config.Channels, 256) : null;
        log($"data: {train.Count} training images from {trainFolder}" + (heldout is null ? " (no heldout/ folder)" : $", {heldout.Count} held out"));
        var export = job.ExportFolder ?? job.StateFolder;
        var samples = Path.Combine(job.StateFolder, "samples");
        string GridPath() => Path.Combine(samples, $"step-{trainer.Step:D6}.png");
        if (!File.Exists(GridPath())) trainer.WriteSampleGrid(GridPath());

        var clock = Stopwatch.StartNew();
        var sinceCheckpoint = Stopwatch.StartNew();
        long startStep = trainer.Step;
        var smoothed = new Dictionary<string, double>();
        long checkpointed = -1;

        void Checkpoint()
        {
            trainer.SaveState(job.StateFolder);
            // A model exported before the planned step count says so on its card: it may be copied and shipped as it is.
            var notes = trainer.Step < job.TotalSteps
                ? $"partly trained: {trainer.Step} of the planned {job.TotalSteps} steps" + (stop.IsCancellationRequested ? " (training was stopped early)" : " (a checkpoint while training)")
                : null;
            var card = trainer.Export(export, heldout, notes);
            sinceCheckpoint.Restart();
            checkpointed = trainer.Step;
            log($"checkpoint at step {trainer.Step}: {Describe(card.Losses)}" + (card.HeldoutLosses.Count == 0 ? "" : $"; held out {Describe(card.HeldoutLosses)}"));
        }

        while (trainer.Step < job.TotalSteps && !stop.IsCancellationRequested)
        {
            var step = trainer.TrainStep(train);
            if (step.Losses.Count == 0) { log($"step {step.Step}: gradients not finite, step skipped"); continue; }
            foreach (var (name, value) in step.Losses)
                smoothed[name] = smoothed.TryGetValue(name, out var old) ? 0.98 * old + 0.02 * value : value;
            if (progress is not null && (trainer.Step % job.ReportEvery == 0 || trainer.Step == job.TotalSteps))
            {
                double rate = (trainer.Step - startStep) / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
                progress(new GeneratorProgress(trainer.Step, job.TotalSteps, smoothed, rate, rate > 0 ? TimeSpan.FromSeconds((job.TotalSteps - trainer.Step) / rate) : null));
            }
            if (job.SampleEvery > 0 && trainer.Step % job.SampleEvery == 0) trainer.WriteSampleGrid(GridPath());
            if (trainer.Step % job.CheckpointEverySteps == 0 || sinceCheckpoint.Elapsed.TotalMinutes >= job.CheckpointMinutes) Checkpoint();
        }
        // The last step's checkpoint, unless the loop has just written it (a stop asks for its own: its card says so).
        if (checkpointed != trainer.Step || stop.IsCancellationRequested) Checkpoint();
        if (!File.Exists(GridPath())) trainer.WriteSampleGrid(GridPath());
        log(stop.IsCancellationRequested ? $"stopped at step {trainer.Step}; run it again to resume" : $"finished {trainer.Step} steps");
        return 0;
    }

    /// <summary>"loss 812.3, kl 40.1, …" for logs.</summary>
    public static string Describe(IReadOnlyDictionary<string, double> losses) =>
        string.Join(", ", losses.Select(p => $"{p.Key} {p.Value.ToString("G4", CultureInfo.InvariantCulture)}"));

    static IGeneratorTrainerHandle Open(GeneratorTrainingJob job, DatasetInfo dataset, Action<string> log)
    {
        bool resume = File.Exists(Path.Combine(job.StateFolder, "training-state.json"));
        if (job.Family == GeneratorFamily.Vae)
        {
            var trainer = resume
                ? VaeTrainer.Resume(job.StateFolder, o => o with { BatchSize = job.BatchSize ?? o.BatchSize, LearningRate = job.LearningRate ?? o.LearningRate })
                : new VaeTrainer(new VaeTrainingOptions
                {
                    ModelName = job.ModelName, Config = job.Config, BatchSize = job.BatchSize ?? 64, LearningRate = job.LearningRate ?? 5e-4,
                    Beta = job.Beta, ReconstructionSigma = job.ReconstructionSigma, Seed = job.Seed, Dataset = dataset,
                });
            log((resume ? $"resumed {trainer.ModelName} at step {trainer.Step} from {job.StateFolder}" : $"new VAE {trainer.ModelName}") +
                $": {trainer.Vae.ParameterCount:N0} parameters, β {trainer.Options.Beta}, σ_x {trainer.Options.ReconstructionSigma}, batch {trainer.Options.BatchSize}, lr {trainer.Options.LearningRate}");
            return new Handle<VaeTrainingOptions>(trainer);
        }
        var objective = job.Family == GeneratorFamily.PlainGan ? GanObjective.Plain : GanObjective.HingeSpectral;
        var gan = resume
            ? GanTrainer.Resume(job.StateFolder, o => o with { BatchSize = job.BatchSize ?? o.BatchSize, LearningRate = job.LearningRate ?? o.LearningRate })
            : new GanTrainer(new GanTrainingOptions
            {
                ModelName = job.ModelName, Config = job.Config, Objective = objective, BatchSize = job.BatchSize ?? 64,
                LearningRate = job.LearningRate ?? 2e-4, Seed = job.Seed, Dataset = dataset,
            });
        if (gan.Options.Objective != objective)
        {
            gan.Dispose();
            throw new TrainingException($"{job.StateFolder} trains a {gan.Options.ObjectiveName} GAN, not a {(objective == GanObjective.Plain ? "gan-plain" : "gan-hinge-sn")} one; choose another state folder");
        }
        log((resume ? $"resumed {gan.ModelName} at step {gan.Step} from {job.StateFolder}" : $"new GAN {gan.ModelName}") +
            $" ({gan.Options.ObjectiveName}): generator {gan.Generator.ParameterCount:N0} parameters, discriminator {gan.Discriminator.ParameterCount:N0}, batch {gan.Options.BatchSize}, lr {gan.Options.LearningRate}");
        return new Handle<GanTrainingOptions>(gan);
    }

    /// <summary>The trainer's operations the loop needs, whatever its options' type.</summary>
    interface IGeneratorTrainerHandle : IDisposable
    {
        long Step { get; }
        ConvGenerator Generator { get; }
        GeneratorStep TrainStep(ImageFolderDataset data);
        void SaveState(string folder);
        GeneratorCard Export(string folder, ImageFolderDataset? heldout, string? notes);
        void WriteSampleGrid(string path);
    }

    sealed class Handle<T>(GeneratorTrainer<T> trainer) : IGeneratorTrainerHandle where T : class
    {
        public long Step => trainer.Step;
        public ConvGenerator Generator => trainer.Generator;
        public GeneratorStep TrainStep(ImageFolderDataset data) => trainer.TrainStep(data);
        public void SaveState(string folder) => trainer.SaveState(folder);
        public GeneratorCard Export(string folder, ImageFolderDataset? heldout, string? notes) => trainer.Export(folder, heldout, notes);
        public void WriteSampleGrid(string path) => trainer.WriteSampleGrid(path);
        public void Dispose() => trainer.Dispose();
    }

    /// <summary>The data folder's SOURCE.txt (written by tools/fetch-data.sh) says where the images came from and their licence.</summary>
    public static DatasetInfo DescribeDataset(string data, string trainFolder, string heldoutFolder)
    {
        var sourceFile = Path.Combine(data, "SOURCE.txt");
        var source = File.Exists(sourceFile) ? File.ReadAllText(sourceFile).Trim() : data;
        int Count(string folder) => Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "*.png").Count() : 0;
        var licence = source.Contains("CC0", StringComparison.Ordinal) ? "CC0 1.0 (design), MIT (code)"
                    : source.Contains("Apache", StringComparison.Ordinal) ? "Apache-2.0 (images), MIT (package code)" : "see SOURCE.txt";
        return new DatasetInfo(Path.GetFileName(Path.GetFullPath(data).TrimEnd('/')), source, licence, Count(trainFolder), Count(heldoutFolder));
    }
}
