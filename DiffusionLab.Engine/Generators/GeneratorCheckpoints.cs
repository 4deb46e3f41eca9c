using DiffusionLab.Engine.Priors;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Generators;

/// <summary>Which family a generator belongs to, and so what its weights file holds.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<GeneratorKind>))]
public enum GeneratorKind
{
    /// <summary>A <see cref="ConvVae"/>: encoder and decoder (the decoder is the generator).</summary>
    Vae,
    /// <summary>A GAN's <see cref="ConvGenerator"/> alone (the discriminator stays in the training state).</summary>
    Gan,
}

/// <summary>
/// models/&lt;name&gt;.json for a VAE or GAN: what the network is, what it was trained on and how,
/// where its losses ended, and the SHA-256 of its weights, so a damaged or swapped file is caught.
/// </summary>
public sealed record GeneratorCard
{
    public required string Name { get; init; }
    public required GeneratorKind Kind { get; init; }
    /// <summary>How it was trained: "vae-elbo", "gan-plain" (non-saturating loss) or "gan-hinge-sn" (hinge loss, spectrally normalised discriminator).</summary>
    public required string Objective { get; init; }
    /// <summary>The architecture in words, for a reader of the card.</summary>
    public string Architecture { get; init; } = "";
    public required GeneratorConfig Config { get; init; }
    public long ParameterCount { get; init; }
    public DatasetInfo? Dataset { get; init; }
    public long TrainingSteps { get; init; }
    public int BatchSize { get; init; }
    public double LearningRate { get; init; }
    /// <summary>The VAE's KL weight β; absent for a GAN.</summary>
    public double? Beta { get; init; }
    /// <summary>The VAE's likelihood σ_x in the images' [-1, 1] scale; absent for a GAN.</summary>
    public double? ReconstructionSigma { get; init; }
    /// <summary>The training losses, averaged over the last stretch of steps before the export (names depend on the objective).</summary>
    public Dictionary<string, double> Losses { get; init; } = new();
    /// <summary>The same losses on held-out images where they can be measured (the VAE's); empty otherwise.</summary>
    public Dictionary<string, double> HeldoutLosses { get; init; } = new();
    public required string WeightsFile { get; init; }
    public required string WeightsSha256 { get; init; }
    public long WeightsBytes { get; init; }
    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;
    public string? Notes { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, ModelCard.Json);
}

/// <summary>
/// Saves and loads VAE and GAN weights as safetensors with a <see cref="GeneratorCard"/> beside them,
/// with the checks the diffusion priors' checkpoints get: the card parses and describes a valid
/// network, the weights' length and SHA-256 match, and every tensor fits by name and shape.
/// </summary>
public static class GeneratorCheckpoints
{
    /// <summary>Writes &lt;folder&gt;/&lt;card.Name&gt;.safetensors (the whole VAE, or the GAN's generator) and .json; returns the card as written.</summary>
    public static GeneratorCard Save(nn.Module network, GeneratorCard card, string folder)
    {
        Directory.CreateDirectory(folder);
        var weightsFile = card.Name + ".safetensors";
        var weightsPath = Path.Combine(folder, weightsFile);
        using (var stream = File.Create(weightsPath + ".tmp"))
            network.save_safetensors(stream);
        File.Move(weightsPath + ".tmp", weightsPath, overwrite: true);
        var written = card with
        {
            WeightsFile = weightsFile,
            WeightsSha256 = Checkpoints.Sha256(weightsPath),
            WeightsBytes = new FileInfo(weightsPath).Length,
            ParameterCount = network.parameters().Sum(p => p.numel()),
        };
        var cardPath = Path.Combine(folder, card.Name + ".json");
        File.WriteAllText(cardPath + ".tmp", written.ToJson());
        File.Move(cardPath + ".tmp", cardPath, overwrite: true);
        return written;
    }

    public static GeneratorCard ReadCard(string cardPath) =>
        Checkpoints.ReadCard<GeneratorCard>(cardPath, "not a VAE's or GAN's card", card => card.Config?.Problems() ?? ["it has no generator configuration"]);

    /// <summary>Loads the whole VAE a card describes, in eval mode.</summary>
    public static ConvVae LoadVae(string cardPath)
    {
        var card = Require(cardPath, GeneratorKind.Vae);
        var vae = new ConvVae(card.Config, card.Name);
        try { Checkpoints.LoadWeights(vae, Checkpoints.CheckWeightsFile(cardPath, card.WeightsFile, card.WeightsBytes, card.WeightsSha256)); }
        catch { vae.Dispose(); throw; }
        vae.eval();
        return vae;
    }

    /// <summary>
    /// The generator of a VAE (its decoder) or of a GAN, frozen and in eval mode: what sampling and
    /// CSGM use. Only z is ever differentiated, so autograd need not track the weights.
    /// </summary>
    public static ConvGenerator LoadGenerator(string cardPath)
    {
        var card = ReadCard(cardPath);
        var generator = new ConvGenerator(card.Config, card.Name);
        try
        {
            if (card.Kind == GeneratorKind.Vae)
            {
                using var vae = LoadVae(cardPath);
                using var _ = no_grad();
                var target = generator.state_dict();
                foreach (var (name, tensor) in vae.Decoder.state_dict()) target[name].copy_(tensor);
            }
            else Checkpoints.LoadWeights(generator, Checkpoints.CheckWeightsFile(cardPath, card.WeightsFile, card.WeightsBytes, card.WeightsSha256));
        }
        catch { generator.Dispose(); throw; }
        generator.eval();
        foreach (var parameter in generator.parameters()) parameter.requires_grad_(false);
        return generator;
    }

    static GeneratorCard Require(string cardPath, GeneratorKind kind)
    {
        var card = ReadCard(cardPath);
        if (card.Kind != kind) throw new CheckpointException($"{cardPath}: this card describes a {card.Kind.ToString().ToUpperInvariant()}, not a {kind.ToString().ToUpperInvariant()}");
        return card;
    }
}
