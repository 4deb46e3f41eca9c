using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Priors;
using System.Text.Json.Serialization;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>How a GAN is trained.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GanObjective>))]
public enum GanObjective
{
    /// <summary>The non-saturating loss of Goodfellow et al. (2014) and a plain discriminator: nothing keeps the game in balance.</summary>
    Plain,
    /// <summary>The hinge loss with every discriminator layer spectrally normalised (Miyato et al. 2018): the usable prior.</summary>
    HingeSpectral,
}

/// <summary>What one GAN training run does; saved beside the checkpoint so a resumed run continues the same run.</summary>
public sealed record GanTrainingOptions
{
    public required string ModelName { get; init; }
    public required GeneratorConfig Config { get; init; }
    public GanObjective Objective { get; init; } = GanObjective.HingeSpectral;
    public int BatchSize { get; init; } = 64;
    /// <summary>Adam's rate for both players (DCGAN's 2·10⁻⁴).</summary>
    public double LearningRate { get; init; } = 2e-4;
    /// <summary>Adam's β₁ and β₂ (DCGAN's 0.5 and 0.999: a short memory of the gradient suits a moving target).</summary>
    public double Beta1 { get; init; } = 0.5;
    public double Beta2 { get; init; } = 0.999;
    public bool Mirror { get; init; } = true;
    public long Seed { get; init; } = 0;
    public DatasetInfo? Dataset { get; init; }

    public string ObjectiveName => Objective == GanObjective.Plain ? "gan-plain" : "gan-hinge-sn";
}

/// <summary>
/// Trains a DCGAN-style generator against a discriminator, one discriminator step and one generator
/// step per iteration, each on its own fresh codes. With <see cref="GanObjective.Plain"/> the
/// discriminator minimises softplus(−D(x)) + softplus(D(G(z))) (the cross-entropy of real against fake)
/// and the generator softplus(−D(G(z))), the non-saturating form; with
/// <see cref="GanObjective.HingeSpectral"/> the discriminator minimises max(0, 1 − D(x)) + max(0, 1 + D(G(z)))
/// and the generator −D(G(z)), with the discriminator spectrally normalised. The history records both
/// players' losses and their mean logits on real and generated images, so the game can be watched.
/// </summary>
public sealed class GanTrainer : GeneratorTrainer<GanTrainingOptions>
{
    const string GeneratorFile = "generator.safetensors", DiscriminatorFile = "discriminator.safetensors";
    const string GeneratorOptimizerFile = "optimizer-generator.bin", DiscriminatorOptimizerFile = "optimizer-discriminator.bin";

    readonly ConvGenerator generator;
    readonly Discriminator discriminator;
    readonly TorchSharp.Modules.Adam generatorOptimizer, discriminatorOptimizer;

    public GanTrainer(GanTrainingOptions options) : base(options)
    {
        if (options.BatchSize < 1) throw new TrainingException($"the batch size must be at least 1, not {options.BatchSize}");
        generator = new ConvGenerator(options.Config, options.ModelName, options.Seed);
        discriminator = new Discriminator(options.Config, spectral: options.Objective == GanObjective.HingeSpectral, options.Seed + 1);
        generatorOptimizer = optim.Adam(generator.parameters(), lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2);
        discriminatorOptimizer = optim.Adam(discriminator.parameters(), lr: options.LearningRate, beta1: options.Beta1, beta2: options.Beta2);
    }

    public override ConvGenerator Generator => generator;
    public Discriminator Discriminator => discriminator;
    public override string ModelName => Options.ModelName;
    protected override long Seed => Options.Seed;

    /// <summary>d_loss and g_loss the two players' losses; d_real and d_fake the discriminator's mean logit on the real and generated images of its step.</summary>
    public override IReadOnlyList<string> LossNames { get; } = ["d_loss", "g_loss", "d_real", "d_fake"];

    protected override IEnumerable<(string File, nn.Module Network)> StateNetworks => [(GeneratorFile, generator), (DiscriminatorFile, discriminator)];
    protected override IEnumerable<(string File, TorchSharp.Modules.Adam Optimizer)> StateOptimizers =>
        [(GeneratorOptimizerFile, generatorOptimizer), (DiscriminatorOptimizerFile, discriminatorOptimizer)];

    /// <summary>The discriminator's loss on logits of real and of generated images.</summary>
    public static Tensor DiscriminatorLoss(GanObjective objective, Tensor realLogits, Tensor fakeLogits)
    {
        using var scope = NewDisposeScope();
        var loss = objective == GanObjective.Plain
            ? nn.functional.softplus(realLogits.neg()).mean().Plus(nn.functional.softplus(fakeLogits).mean())
            : nn.functional.relu(realLogits.SubtractedFrom(1)).mean().Plus(nn.functional.relu(fakeLogits.Plus(1)).mean());
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>The generator's loss on the discriminator's logits of its images.</summary>
    public static Tensor GeneratorLoss(GanObjective objective, Tensor fakeLogits)
    {
        using var scope = NewDisposeScope();
        var loss = objective == GanObjective.Plain ? nn.functional.softplus(fakeLogits.neg()).mean() : fakeLogits.mean().neg();
        return loss.MoveToOuterDisposeScope();
    }

    protected override IReadOnlyDictionary<string, double>? TakeStep(ImageFolderDataset data, Generator random)
    {
        using var scope = NewDisposeScope();
        long batch = Options.BatchSize, latent = Options.Config.LatentDimension;
        var real = data.Batch(Options.BatchSize, random, Options.Mirror);
        var discriminatorCodes = randn([batch, latent], generator: random);
        var generatorCodes = randn([batch, latent], generator: random);
        var discriminatorStep = DiscriminatorStep(real, discriminatorCodes);
        if (discriminatorStep is not var (dLoss, dReal, dFake)) return null;
        if (GeneratorStep(generatorCodes) is not double gLoss) return null;
        return new Dictionary<string, double> { ["d_loss"] = dLoss, ["g_loss"] = gLoss, ["d_real"] = dReal, ["d_fake"] = dFake };
    }

    /// <summary>
    /// One Adam step of the discriminator on real images and G(codes), the generator held fixed (real
    /// and generated images in one call). Returns its loss and mean logits before the step, or null when
    /// its gradient was not finite and the step was skipped.
    /// </summary>
    public (double Loss, double RealLogit, double FakeLogit)? DiscriminatorStep(Tensor real, Tensor codes)
    {
        using var scope = NewDisposeScope();
        generator.train();
        discriminator.train();
        Tensor fake;
        using (no_grad()) fake = generator.call(codes);
        discriminatorOptimizer.zero_grad();
        var logits = discriminator.call(cat([real, fake], 0));
        var realLogits = logits.narrow(0, 0, real.shape[0]);
        var fakeLogits = logits.narrow(0, real.shape[0], fake.shape[0]);
        var loss = DiscriminatorLoss(Options.Objective, realLogits, fakeLogits);
        if (!StepIfFinite("discriminator's loss", loss, discriminator, discriminatorOptimizer, out var value)) return null;
        return (value, realLogits.mean().item<float>(), fakeLogits.mean().item<float>());
    }

    /// <summary>One Adam step of the generator on G(codes) through the discriminator as it is; returns its loss before the step, or null when skipped.</summary>
    public double? GeneratorStep(Tensor codes)
    {
        using var scope = NewDisposeScope();
        generator.train();
        discriminator.train();
        generatorOptimizer.zero_grad();
        var loss = GeneratorLoss(Options.Objective, discriminator.call(generator.call(codes)));
        return StepIfFinite("generator's loss", loss, generator, generatorOptimizer, out var value) ? value : null;
    }

    public override GeneratorCard Export(string folder, ImageFolderDataset? heldout, string? notes = null)
    {
        bool wasTraining = generator.training;
        generator.eval();
        try
        {
            return GeneratorCheckpoints.Save(generator, new GeneratorCard
            {
                Name = Options.ModelName,
                Kind = GeneratorKind.Gan,
                Objective = Options.ObjectiveName,
                Architecture = $"DCGAN generator (transposed convolutions, batch norm, ReLU, tanh) from z ∈ ℝ^{Options.Config.LatentDimension}; trained against a DCGAN discriminator (stride-2 convolutions, leaky ReLU, no batch norm)" +
                    (Options.Objective == GanObjective.Plain ? " with the non-saturating loss" : ", spectrally normalised, with the hinge loss"),
                Config = Options.Config,
                Dataset = Options.Dataset,
                TrainingSteps = Step,
                BatchSize = Options.BatchSize,
                LearningRate = Options.LearningRate,
                Losses = RecentLosses(),
                WeightsFile = Options.ModelName + ".safetensors",
                WeightsSha256 = "",
                Notes = notes,
            }, folder);
        }
        finally { generator.train(wasTraining); }
    }

    /// <summary>Resumes from a folder written by <see cref="GeneratorTrainer{T}.SaveState"/>; the stored architecture and objective win, the batch size and learning rate may change.</summary>
    public static GanTrainer Resume(string folder, Func<GanTrainingOptions, GanTrainingOptions>? adjust = null)
    {
        var (step, stored) = ReadState(folder);
        var options = adjust is null ? stored : adjust(stored) with { Config = stored.Config, Objective = stored.Objective, ModelName = stored.ModelName };
        var trainer = new GanTrainer(options);
        try { trainer.LoadState(folder, step); }
        catch { trainer.Dispose(); throw; }
        foreach (var group in trainer.generatorOptimizer.ParamGroups.Concat(trainer.discriminatorOptimizer.ParamGroups)) group.LearningRate = options.LearningRate;
        return trainer;
    }

    public override void Dispose()
    {
        generatorOptimizer.Dispose();
        discriminatorOptimizer.Dispose();
        generator.Dispose();
        discriminator.Dispose();
    }
}
