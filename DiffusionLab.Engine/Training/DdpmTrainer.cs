using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>A training run that cannot go on: a non-finite loss or gradient, or a damaged training state.</summary>
public sealed class TrainingException(string message) : Exception(message);

/// <summary>What one training run does; saved beside the checkpoint so a resumed run continues the same run.</summary>
public sealed record TrainingOptions
{
    public required string ModelName { get; init; }
    public required UNetConfig Config { get; init; }
    public string ScheduleKind { get; init; } = "linear";
    public int ScheduleSteps { get; init; } = 1000;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 2e-4;
    public int WarmupSteps { get; init; } = 200;
    public double EmaRate { get; init; } = 0.999;
    public double GradientClip { get; init; } = 1.0;
    public bool Mirror { get; init; } = true;
    public long Seed { get; init; } = 0;
    public LossWeighting LossWeighting { get; init; } = LossWeighting.Uniform;
    /// <summary>For a class-conditional network: the share of samples trained with "no class" instead of
    /// their own, so one network learns ε(x_t, t, c) and the unconditional ε(x_t, t) that classifier-free
    /// guidance combines (Ho &amp; Salimans 2022 use 0.1–0.2).</summary>
    public double ClassDropout { get; init; } = 0.2;
    public DatasetInfo? Dataset { get; init; }
}

/// <summary>One optimisation step's outcome, for progress displays.</summary>
public readonly record struct TrainingStep(long Step, double Loss, double GradientNorm, bool Skipped);

/// <summary>
/// The DDPM objective (Ho et al. 2020): draw x0, t ~ U{0..T−1} and ε ~ N(0, I), and regress the
/// network's ε(x_t, t) onto ε with Adam, a linear learning-rate warm-up, gradient clipping and an
/// EMA of the weights. The training state (weights, EMA, Adam moments, step) lives in one folder,
/// written atomically, so a killed run resumes where its last checkpoint left it.
/// </summary>
public sealed class DdpmTrainer : IDisposable
{
    /// <summary>Timesteps at which the held-out loss is reported in the model card.</summary>
    public static readonly int[] HeldoutTimesteps = [50, 250, 500, 750];

    /// <summary>Consecutive steps with non-finite gradients after which the run stops instead of skipping.</summary>
    const int MaxConsecutiveSkips = 5;

    readonly TrainingOptions options;
    readonly UNet model, average;
    readonly Ema ema;
    readonly TorchSharp.Modules.Adam optimizer;
    Generator generator;
    int consecutiveSkips;

    public DdpmTrainer(TrainingOptions options)
    {
        if (!(options.ClassDropout is >= 0 and <= 1)) throw new TrainingException($"the class dropout is a probability between 0 and 1, not {options.ClassDropout}");
        this.options = options;
        Schedule = NoiseSchedule.FromName(options.ScheduleKind, options.ScheduleSteps);
        model = new UNet(options.Config, Schedule, options.ModelName);
        average = new UNet(options.Config, Schedule, options.ModelName);
        // Both networks live on the process's device (ComputeDevice); batches are moved to it in Loss.
        var device = ComputeDevice.Current;
        if (device.type != DeviceType.CPU)
        {
            model.to(device);
            average.to(device);
        }
        Ema.CopyWeights(model, average);
        average.eval();
        ema = new Ema(model, average, options.EmaRate);
        optimizer = optim.Adam(model.parameters(), lr: options.LearningRate);
        generator = new Generator((ulong)options.Seed);
    }

    public NoiseSchedule Schedule { get; }
    public UNet Model => model;
    public UNet Average => average;
    public long Step { get; private set; }
    public TrainingOptions Options => options;

    /// <summary>The step at which the optimiser's moments started: 0, or the step a <see cref="StartFrom"/> carried on from.</summary>
    long warmupOrigin;

    /// <summary>The learning rate at a step: linear warm-up to the set rate (counted from when Adam's moments started), then constant.</summary>
    public double LearningRateAt(long step) => options.WarmupSteps <= 0 ? options.LearningRate : options.LearningRate * Math.Min(1.0, (step - warmupOrigin + 1.0) / options.WarmupSteps);

    /// <summary>The ε-MSE of <paramref name="network"/> on a batch x0 at the given timesteps and noise, each sample's term weighted by <paramref name="weighting"/>.</summary>
    /// <param name="classes">int64 [B] for a class-conditional network (its class count meaning "no class"); null predicts without a class.</param>
    public static Tensor Loss(UNet network, Tensor x0, Tensor t, Tensor noise, LossWeighting weighting = LossWeighting.Uniform, Tensor? classes = null)
    {
        using var scope = NewDisposeScope();
        // Data and noise come from the CPU (the dataset, the seeded generator); the network may be on a GPU.
        var device = network.Device;
        x0 = x0.to(device);
        t = t.to(device);
        noise = noise.to(device);
        classes = classes?.to(device);
        var alphaBar = network.Schedule.AlphaBar(t, x0.device);
        var xt = ForwardProcess.Sample(x0, alphaBar, noise);
        var prediction = classes is null ? network.forward(xt, t) : network.PredictNoise(xt, t, classes);
        if (weighting == LossWeighting.Uniform)
            return nn.functional.mse_loss(prediction, noise).MoveToOuterDisposeScope();
        var perSample = nn.functional.mse_loss(prediction, noise, nn.Reduction.None).flatten(1).mean([1]);
        return perSample.mul(alphaBar.SubtractedFrom(1)).mean().MoveToOuterDisposeScope();
    }

    public TrainingStep TrainStep(ImageFolderDataset data)
    {
        using var scope = NewDisposeScope();
        model.train();
        foreach (var group in optimizer.ParamGroups) group.LearningRate = LearningRateAt(Step);
        var (x0, labels) = data.LabelledBatch(options.BatchSize, generator, options.Mirror);
        var t = randint(0, Schedule.TrainingSteps, [options.BatchSize], dtype: int64, generator: generator);
        var noise = randn(x0.shape, generator: generator);
        var classes = options.Config.ClassCount > 0 ? ClassesWithDropout(data, labels) : null;
        optimizer.zero_grad();
        var loss = Loss(model, x0, t, noise, options.LossWeighting, classes);
        double lossValue = loss.item<float>();
        if (!double.IsFinite(lossValue))
            throw new TrainingException($"the training loss became {lossValue} at step {Step}; the run stops rather than train on it (try a lower --lr, or resume from the last checkpoint)");
        loss.backward();
        // clip_grad_norm_ returns the norm before clipping: one reduction tells whether every gradient is finite.
        double norm = nn.utils.clip_grad_norm_(model.parameters(), options.GradientClip);
        if (!double.IsFinite(norm))
        {
            // With several intra-op threads conv2d gradients are occasionally NaN (docs/torchsharp.md §3): skip such a step, stop if it persists.
            optimizer.zero_grad();
            if (++consecutiveSkips >= MaxConsecutiveSkips)
                throw new TrainingException($"the gradients were not finite for {consecutiveSkips} steps in a row (last at step {Step}); the run stops. Use --threads 1, or a lower --lr");
            return new TrainingStep(Step, lossValue, norm, Skipped: true);
        }
        consecutiveSkips = 0;
        optimizer.step();
        ema.Update(Step);
        Step++;
        return new TrainingStep(Step, lossValue, norm, Skipped: false);
    }

    /// <summary>The batch's classes, each replaced by "no class" with probability <see cref="TrainingOptions.ClassDropout"/>.</summary>
    Tensor ClassesWithDropout(ImageFolderDataset data, Tensor? labels)
    {
        var names = options.Config.ClassNames!;
        if (labels is null)
            throw new TrainingException($"{options.ModelName} learns {names.Length} classes, but {data.Folder} has no class list ({ImageClasses.FileName} beside train/; tools/fetch-data.sh writes it for the emoji)");
        if (!data.ClassNames.SequenceEqual(names))
            throw new TrainingException($"{data.Folder}'s classes ({string.Join(", ", data.ClassNames)}) are not the ones {options.ModelName} learns ({string.Join(", ", names)})");
        var dropped = rand([labels.shape[0]], generator: generator).LessThan(options.ClassDropout);
        using var none = ScalarArithmetic.Full([labels.shape[0]], (long)names.Length, int64, labels.device);
        return where(dropped, none, labels);
    }

    /// <summary>Mean held-out ε-MSE of the EMA weights at each of <see cref="HeldoutTimesteps"/>, with fixed noise (comparable across checkpoints).</summary>
    public Dictionary<string, double> HeldoutLoss(ImageFolderDataset heldout, int maxImages = 256, bool withClasses = false) => HeldoutLoss(average, heldout, maxImages, withClasses);

    /// <summary>Mean held-out ε-MSE of <paramref name="network"/> at each of <see cref="HeldoutTimesteps"/>, with fixed noise (comparable across checkpoints and trainers).</summary>
    /// <param name="withClasses">Tell a class-conditional network each image's class (the held-out set must carry them);
    /// otherwise it predicts without one, as the solvers use it. Below the plain loss when the network makes use of the class.</param>
    public static Dictionary<string, double> HeldoutLoss(UNet network, ImageFolderDataset heldout, int maxImages = 256, bool withClasses = false)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        if (withClasses && network.Config.ClassCount == 0)
            throw new ArgumentException("the network has no classes to be told", nameof(withClasses));
        if (withClasses && (heldout.Labels is null || !heldout.ClassNames.SequenceEqual(network.Config.ClassNames!)))
            throw new TrainingException($"{heldout.Folder} does not carry the classes the network learns ({string.Join(", ", network.Config.ClassNames!)})");
        var result = new Dictionary<string, double>();
        long n = Math.Min(maxImages, heldout.Count);
        var x0 = heldout.Images.narrow(0, 0, n);
        var labels = withClasses ? heldout.Labels!.narrow(0, 0, n) : null;
        var fixedNoise = randn(x0.shape, generator: new Generator(12345));
        foreach (var t in HeldoutTimesteps.Where(t => t < network.Schedule.TrainingSteps))
        {
            double sum = 0;
            for (long start = 0; start < n; start += 64)
            {
                long size = Math.Min(64, n - start);
                using var loss = Loss(network, x0.narrow(0, start, size), ScalarArithmetic.Full([size], (long)t, int64), fixedNoise.narrow(0, start, size),
                    classes: labels?.narrow(0, start, size));
                sum += loss.item<float>() * size;
            }
            result[t.ToString(System.Globalization.CultureInfo.InvariantCulture)] = sum / n;
        }
        return result;
    }

    /// <summary>Guidance weight of the class-by-class preview of a class-conditional network.</summary>
    public const double PreviewGuidance = 2;

    /// <summary>A grid of EMA samples (50-step DDIM, fixed seed so grids from different steps compare); for a
    /// class-conditional network also &lt;path&gt;-classes.png, guided toward each class in turn (w = 2).</summary>
    public void WriteSampleGrid(string path, int count = 64, int steps = 50)
    {
        using var scope = NewDisposeScope();
        var samples = PreviewSampler.Sample(average, count, steps, seed: 2024);
        ImageCodec.WriteFile(path, samples, columns: 8, scale: 2);
        if (options.Config.ClassCount == 0) return;
        using var guided = new ClassGuidedDenoiser(average, ClassGuidedDenoiser.EvenShares(count, options.Config.ClassCount), PreviewGuidance);
        ImageCodec.WriteFile(Path.ChangeExtension(path, null) + "-classes.png", PreviewSampler.Sample(guided, count, steps, seed: 2024), columns: 8, scale: 2);
    }

    // ---- training state on disk ----

    sealed record TrainingState(long Step, TrainingOptions Options);

    const string StateFile = "training-state.json", WeightsFile = "model.safetensors", EmaFile = "ema.safetensors", OptimizerFile = "optimizer.bin";

    /// <summary>
    /// Continues from a finished checkpoint instead of a full training state (a fresh machine has
    /// only the bundled model): its weights become both the trained and the averaged network and the
    /// step count carries on; Adam's moments start afresh, which the learning-rate warm-up absorbs.
    /// </summary>
    public void StartFrom(UNet weights, long step)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step));
        Ema.CopyWeights(weights, model);
        Ema.CopyWeights(weights, average);
        Step = step;
        warmupOrigin = step;
    }

    public static bool HasState(string folder) => File.Exists(Path.Combine(folder, StateFile));

    /// <summary>Writes the full training state to <paramref name="folder"/> (each file replaced atomically, the state file last).</summary>
    public void SaveState(string folder)
    {
        Directory.CreateDirectory(folder);
        WriteAtomically(Path.Combine(folder, WeightsFile), path => { using var s = File.Create(path); model.save_safetensors(s); });
        WriteAtomically(Path.Combine(folder, EmaFile), path => { using var s = File.Create(path); average.save_safetensors(s); });
        WriteAtomically(Path.Combine(folder, OptimizerFile), path => optimizer.save_state_dict(path));
        WriteAtomically(Path.Combine(folder, StateFile), path => File.WriteAllText(path, JsonSerializer.Serialize(new TrainingState(Step, options), ModelCard.Json)));
    }

    /// <summary>Resumes from a folder written by <see cref="SaveState"/>; the stored architecture wins over the one asked for.</summary>
    public static DdpmTrainer Resume(string folder, Func<TrainingOptions, TrainingOptions>? adjust = null)
    {
        var statePath = Path.Combine(folder, StateFile);
        TrainingState state;
        try { state = JsonSerializer.Deserialize<TrainingState>(File.ReadAllText(statePath), ModelCard.Json) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new TrainingException($"{statePath}: the training state is not valid JSON ({e.Message})"); }
        var options = adjust is null ? state.Options : adjust(state.Options) with { Config = state.Options.Config, ScheduleKind = state.Options.ScheduleKind, ScheduleSteps = state.Options.ScheduleSteps };
        var trainer = new DdpmTrainer(options);
        try
        {
            Checkpoints.LoadWeights(trainer.model, Path.Combine(folder, WeightsFile));
            Checkpoints.LoadWeights(trainer.average, Path.Combine(folder, EmaFile));
        }
        catch (CheckpointException e) { throw new TrainingException(e.Message); }
        var optimizerPath = Path.Combine(folder, OptimizerFile);
        if (File.Exists(optimizerPath)) trainer.optimizer.load_state_dict(optimizerPath);
        trainer.Step = state.Step;
        // A resumed run draws fresh batches rather than replaying the first ones.
        trainer.generator = new Generator((ulong)(options.Seed + 1_000_003L * state.Step));
        return trainer;
    }

    /// <summary>Exports the EMA weights and a model card as &lt;folder&gt;/&lt;name&gt;.safetensors / .json.</summary>
    /// <param name="classHeldoutLoss">For a class-conditional network, the held-out loss when told each image's class; null otherwise.</param>
    public ModelCard Export(string folder, Dictionary<string, double> heldoutLoss, string? notes = null, Dictionary<string, double>? classHeldoutLoss = null)
    {
        var card = new ModelCard
        {
            Name = options.ModelName,
            Config = options.Config,
            ScheduleKind = Schedule.Kind,
            ScheduleSteps = Schedule.TrainingSteps,
            Dataset = options.Dataset,
            TrainingSteps = Step,
            BatchSize = options.BatchSize,
            LearningRate = options.LearningRate,
            EmaRate = options.EmaRate,
            LossWeighting = options.LossWeighting,
            HeldoutLoss = heldoutLoss,
            ClassHeldoutLoss = classHeldoutLoss,
            WeightsFile = options.ModelName + ".safetensors",
            WeightsSha256 = "",
            Notes = notes,
        };
        return Checkpoints.Save(average, card, folder);
    }

    static void WriteAtomically(string path, Action<string> write)
    {
        var temporary = path + ".tmp";
        write(temporary);
        File.Move(temporary, path, overwrite: true);
    }

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
        average.Dispose();
        generator.Dispose();
    }
}
