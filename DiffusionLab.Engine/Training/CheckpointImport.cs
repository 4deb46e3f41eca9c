using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// What tools/gpu-train/train_unet.py (the PyTorch mirror of <see cref="UNet"/>) writes beside the
/// weights it exports: &lt;name&gt;.training.json.
/// </summary>
public sealed record ExternalTrainingRecord
{
    public required string Name { get; init; }
    public required UNetConfig Config { get; init; }
    public string ScheduleKind { get; init; } = "linear";
    public int ScheduleSteps { get; init; } = 1000;
    public long TrainingSteps { get; init; }
    public int BatchSize { get; init; }
    public double LearningRate { get; init; }
    public double EmaRate { get; init; }
    public LossWeighting LossWeighting { get; init; } = LossWeighting.Uniform;
    public string? Device { get; init; }
    public string? Torch { get; init; }
    public double Seconds { get; init; }
    public string? Trainer { get; init; }
}

/// <summary>What an import found: the card written and how closely TorchSharp reproduced PyTorch's ε.</summary>
public sealed record ImportResult(ModelCard Card, double MaxEpsilonDifference, double ReferenceEpsilonScale);

/// <summary>
/// Brings weights trained elsewhere (the PyTorch mirror on a GPU) into models/. Nothing is taken on
/// trust: the weights must fit the recorded architecture name by name and shape by shape, the C#
/// network must reproduce the ε that PyTorch computed on a fixed probe (so the two implementations
/// are the same function, not just the same shapes), and the held-out loss in the card is measured
/// here, by <see cref="DdpmTrainer.HeldoutLoss(UNet, ImageFolderDataset, int, bool)"/>, not copied.
/// </summary>
public static class CheckpointImport
{
    /// <summary>Largest |ε_TorchSharp − ε_PyTorch| accepted on the probe (both float32 on a CPU; differences are rounding).</summary>
    public const double DefaultTolerance = 1e-4;

    public static ExternalTrainingRecord ReadRecord(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: the training record is missing (train_unet.py writes it beside the weights)");
        ExternalTrainingRecord? record;
        try { record = JsonSerializer.Deserialize<ExternalTrainingRecord>(File.ReadAllText(path), ModelCard.Json); }
        catch (JsonException e) { throw new CheckpointException($"{path}: the training record is not valid JSON ({e.Message})", e); }
        if (record is null) throw new CheckpointException($"{path}: the training record is empty");
        var problems = record.Config?.Problems() ?? ["it has no UNet configuration"];
        if (problems.Count > 0) throw new CheckpointException($"{path}: the recorded architecture is invalid: {string.Join("; ", problems)}");
        return record;
    }

    /// <summary>
    /// Reads &lt;folder&gt;/&lt;name&gt;.{safetensors,training.json,reference.safetensors}, checks them, and
    /// writes &lt;outFolder&gt;/&lt;name&gt;.{safetensors,json}. <paramref name="heldout"/> may be null (no loss in the card);
    /// for a class-conditional network, a held-out set that carries its classes also gives the card its told-the-class loss.
    /// </summary>
    public static ImportResult Import(string folder, string name, string outFolder, ImageFolderDataset? heldout, DatasetInfo? dataset,
                                      double tolerance = DefaultTolerance)
    {
        var record = ReadRecord(Path.Combine(folder, name + ".training.json"));
        NoiseSchedule schedule;
        try { schedule = NoiseSchedule.FromName(record.ScheduleKind, record.ScheduleSteps); }
        catch (ArgumentException e) { throw new CheckpointException($"{Path.Combine(folder, name + ".training.json")}: {e.Message}", e); }

        using var model = new UNet(record.Config, schedule, name);
        Checkpoints.LoadWeights(model, Path.Combine(folder, name + ".safetensors"));
        model.eval();

        var (difference, scale) = CompareWithReference(model, Path.Combine(folder, name + ".reference.safetensors"));
        if (!(difference <= tolerance))
            throw new CheckpointException($"{Path.Combine(folder, name + ".reference.safetensors")}: TorchSharp's ε differs from PyTorch's by up to {difference:G3} " +
                                          $"(allowed {tolerance:G3}): the two UNets do not compute the same function");

        var loss = heldout is null ? new Dictionary<string, double>() : DdpmTrainer.HeldoutLoss(model, heldout);
        var classLoss = heldout?.Labels is not null && record.Config.ClassCount > 0 ? DdpmTrainer.HeldoutLoss(model, heldout, withClasses: true) : null;
        var card = new ModelCard
        {
            Name = name,
            Config = record.Config,
            ScheduleKind = schedule.Kind,
            ScheduleSteps = schedule.TrainingSteps,
            Dataset = dataset,
            TrainingSteps = record.TrainingSteps,
            BatchSize = record.BatchSize,
            LearningRate = record.LearningRate,
            EmaRate = record.EmaRate,
            LossWeighting = record.LossWeighting,
            HeldoutLoss = loss,
            ClassHeldoutLoss = classLoss,
            WeightsFile = name + ".safetensors",
            WeightsSha256 = "",
            Notes = string.Create(CultureInfo.InvariantCulture,
                $"Trained by {record.Trainer ?? "an external trainer"} (PyTorch {record.Torch ?? "?"}) on {record.Device ?? "?"} for {record.Seconds:F0} s; " +
                $"imported by `DiffusionLab.Cli import`, which found TorchSharp's ε within {difference:G2} of PyTorch's on a fixed probe."),
        };
        return new ImportResult(Checkpoints.Save(model, card, outFolder), difference, scale);
    }

    /// <summary>Max |ε − ε_reference| over the probe in the reference file, and the mean |ε_reference| for scale.</summary>
    public static (double MaxDifference, double Scale) CompareWithReference(UNet model, string referencePath)
    {
        if (!File.Exists(referencePath)) throw new CheckpointException($"{referencePath}: the reference probe is missing (train_unet.py writes it beside the weights)");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Dictionary<string, Tensor> reference;
        try { reference = TorchSharp.PyBridge.Safetensors.LoadStateDict(referencePath); }
        catch (Exception e) { throw new CheckpointException($"{referencePath}: the reference probe could not be read ({e.Message})", e); }
        foreach (var key in new[] { "x", "t", "epsilon" })
            if (!reference.ContainsKey(key)) throw new CheckpointException($"{referencePath}: the reference probe has no tensor '{key}'");
        var x = reference["x"];
        var expected = reference["epsilon"];
        if (x.dim() != 4 || !x.shape.Skip(1).SequenceEqual(model.SampleShape) || !expected.shape.SequenceEqual(x.shape) || reference["t"].shape[0] != x.shape[0])
            throw new CheckpointException($"{referencePath}: the probe's shapes do not fit a {model.Config.ImageSize}×{model.Config.ImageSize}×{model.Config.Channels} model");
        var t = reference["t"].round().to(int64);
        // A class-conditional network's probe also names each sample's class ("no class" among them).
        var classCount = model.Config.ClassCount;
        if (classCount > 0 != reference.ContainsKey("classes"))
            throw new CheckpointException(classCount > 0
                ? $"{referencePath}: the probe has no tensor 'classes', but the network learns {classCount} classes"
                : $"{referencePath}: the probe names classes, but the recorded network has none");
        Tensor epsilon;
        if (classCount > 0)
        {
            var classes = reference["classes"].round().to(int64);
            if (classes.dim() != 1 || classes.shape[0] != x.shape[0] || classes.min().item<long>() < 0 || classes.max().item<long>() > classCount)
                throw new CheckpointException($"{referencePath}: the probe's classes are not one number from 0 to {classCount} per sample");
            epsilon = model.PredictNoise(x, t, classes);
        }
        else epsilon = model.forward(x, t);
        double difference = (epsilon - expected).abs().max().item<float>();
        double scale = expected.abs().mean().item<float>();
        return (difference, scale);
    }
}
