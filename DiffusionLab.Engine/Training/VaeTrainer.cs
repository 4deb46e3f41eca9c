using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>What one VAE training run does; saved beside the checkpoint so a resumed run continues the same run.</summary>
public sealed record VaeTrainingOptions
{
    public required string ModelName { get; init; }
    public required GeneratorConfig Config { get; init; }
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 5e-4;
    /// <summary>The KL term's weight: 1 is the ELBO.</summary>
    public double Beta { get; init; } = 1;
    /// <summary>σ_x of the Gaussian likelihood in the images' [-1, 1] scale: smaller asks for sharper reconstructions at the price of a less regular latent space.</summary>
    public double ReconstructionSigma { get; init; } = 0.1;
    public bool Mirror { get; init; } = true;
    public long Seed { get; init; } = 0;
    public DatasetInfo? Dataset { get; init; }
}

/// <summary>
/// Trains a <see cref="ConvVae"/> by minimising the β-weighted negative ELBO with Adam on random
/// batches (with replacement, optionally mirrored), one fresh ε per image per step.
/// </summary>
public sealed class VaeTrainer : GeneratorTrainer<VaeTrainingOptions>
{
    const string WeightsFile = "vae.safetensors", OptimizerFile = "optimizer.bin";

    readonly ConvVae vae;
    readonly TorchSharp.Modules.Adam optimizer;

    public VaeTrainer(VaeTrainingOptions options) : base(options)
    {
        if (options.BatchSize < 1) throw new TrainingException($"the batch size must be at least 1, not {options.BatchSize}");
        if (!(options.Beta >= 0) || !double.IsFinite(options.Beta)) throw new TrainingException($"β must be a finite number ≥ 0, not {options.Beta}");
        if (!(options.ReconstructionSigma > 0) || !double.IsFinite(options.ReconstructionSigma)) throw new TrainingException($"σ_x must be a positive number, not {options.ReconstructionSigma}");
        vae = new ConvVae(options.Config, options.ModelName, options.Seed);
        optimizer = optim.Adam(vae.parameters(), lr: options.LearningRate);
    }

    public ConvVae Vae => vae;
    public override ConvGenerator Generator => vae.Decoder;
    public override string ModelName => Options.ModelName;
    protected override long Seed => Options.Seed;

    /// <summary>loss: the negative ELBO with β (nats per image); reconstruction and kl its two terms; mse the per-pixel squared error.</summary>
    public override IReadOnlyList<string> LossNames { get; } = ["loss", "reconstruction", "kl", "mse"];

    protected override IEnumerable<(string File, nn.Module Network)> StateNetworks => [(WeightsFile, vae)];
    protected override IEnumerable<(string File, TorchSharp.Modules.Adam Optimizer)> StateOptimizers => [(OptimizerFile, optimizer)];

    protected override IReadOnlyDictionary<string, double>? TakeStep(ImageFolderDataset data, Generator random)
    {
        using var scope = NewDisposeScope();
        vae.train();
        var x = data.Batch(Options.BatchSize, random, Options.Mirror);
        var epsilon = randn([Options.BatchSize, Options.Config.LatentDimension], generator: random);
        optimizer.zero_grad();
        using var loss = vae.Loss(x, epsilon, Options.Beta, Options.ReconstructionSigma);
        return StepIfFinite("VAE loss", loss.Loss, vae, optimizer, out _) ? Values(loss) : null;
    }

    static Dictionary<string, double> Values(VaeLoss loss) => new()
    {
        ["loss"] = loss.Loss.item<float>(),
        ["reconstruction"] = loss.Reconstruction.item<float>(),
        ["kl"] = loss.Kl.item<float>(),
        ["mse"] = loss.MeanSquaredError.item<float>(),
    };

    /// <summary>The losses of the VAE (eval mode) on up to 256 held-out images with fixed ε, comparable across checkpoints.</summary>
    public Dictionary<string, double> HeldoutLosses(ImageFolderDataset heldout)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = vae.training;
        vae.eval();
        long n = Math.Min(256, heldout.Count);
        var x = heldout.Images.narrow(0, 0, n);
        using var random = new Generator(12345);
        var epsilon = randn([n, Options.Config.LatentDimension], generator: random);
        using var loss = vae.Loss(x, epsilon, Options.Beta, Options.ReconstructionSigma);
        vae.train(wasTraining);
        return Values(loss);
    }

    public override GeneratorCard Export(string folder, ImageFolderDataset? heldout, string? notes = null)
    {
        bool wasTraining = vae.training;
        vae.eval();
        try
        {
            return GeneratorCheckpoints.Save(vae, new GeneratorCard
            {
                Name = Options.ModelName,
                Kind = GeneratorKind.Vae,
                Objective = "vae-elbo",
                Architecture = $"convolutional VAE: encoder of stride-2 convolutions (leaky ReLU) to a Gaussian q(z | x) over z ∈ ℝ^{Options.Config.LatentDimension}; decoder the DCGAN generator (transposed convolutions, batch norm, ReLU, tanh)",
                Config = Options.Config,
                Dataset = Options.Dataset,
                TrainingSteps = Step,
                BatchSize = Options.BatchSize,
                LearningRate = Options.LearningRate,
                Beta = Options.Beta,
                ReconstructionSigma = Options.ReconstructionSigma,
                Losses = RecentLosses(),
                HeldoutLosses = heldout is null ? new() : HeldoutLosses(heldout),
                WeightsFile = Options.ModelName + ".safetensors",
                WeightsSha256 = "",
                Notes = notes,
            }, folder);
        }
        finally { vae.train(wasTraining); }
    }

    /// <summary>Resumes from a folder written by <see cref="GeneratorTrainer{T}.SaveState"/>; the stored architecture and objective win, the batch size and learning rate may change.</summary>
    public static VaeTrainer Resume(string folder, Func<VaeTrainingOptions, VaeTrainingOptions>? adjust = null)
    {
        var (step, stored) = ReadState(folder);
        var options = adjust is null ? stored : adjust(stored) with { Config = stored.Config, Beta = stored.Beta, ReconstructionSigma = stored.ReconstructionSigma, ModelName = stored.ModelName };
        var trainer = new VaeTrainer(options);
        try { trainer.LoadState(folder, step); }
        catch { trainer.Dispose(); throw; }
        foreach (var group in trainer.optimizer.ParamGroups) group.LearningRate = options.LearningRate;
        return trainer;
    }

    public override void Dispose()
    {
        optimizer.Dispose();
        vae.Dispose();
    }
}
