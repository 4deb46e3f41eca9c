using DiffusionLab.Engine.Diffusion;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffusionLab.Engine.Priors;

/// <summary>Where a model's training images came from and under which licence.</summary>
public sealed record DatasetInfo(string Name, string Source, string Licence, int TrainImages, int HeldoutImages);

/// <summary>
/// models/&lt;name&gt;.json: everything needed to rebuild a checkpoint's network and to judge it —
/// architecture, schedule, data and licence, how long it trained, its held-out loss, and the
/// SHA-256 of the weights file so a damaged or swapped file is caught before it is used.
/// </summary>
public sealed record ModelCard
{
    public required string Name { get; init; }
    public string Architecture { get; init; } = "ddpm-unet";
    public string Prediction { get; init; } = "epsilon";
    public required UNetConfig Config { get; init; }
    public required string ScheduleKind { get; init; }
    public required int ScheduleSteps { get; init; }
    public int ImageSize => Config.ImageSize;
    public int Channels => Config.Channels;
    public long ParameterCount { get; init; }
    public DatasetInfo? Dataset { get; init; }
    public long TrainingSteps { get; init; }
    public int BatchSize { get; init; }
    public double LearningRate { get; init; }
    public double EmaRate { get; init; }
    /// <summary>The training loss's weighting over timesteps in the last stretch of training; left out
    /// of the JSON when uniform, so cards written before the field existed read the same.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public LossWeighting LossWeighting { get; init; } = LossWeighting.Uniform;
    /// <summary>Mean ε-MSE of the EMA weights on held-out images at fixed timesteps (keys are t).</summary>
    public Dictionary<string, double> HeldoutLoss { get; init; } = new();
    /// <summary>For a class-conditional network, the same held-out loss with each image's class told (keys are t); absent otherwise.
    /// How far it lies below <see cref="HeldoutLoss"/> says how much the network uses the class.</summary>
    public Dictionary<string, double>? ClassHeldoutLoss { get; init; }
    /// <summary>File name of the weights beside the card (safetensors).</summary>
    public required string WeightsFile { get; init; }
    public required string WeightsSha256 { get; init; }
    public long WeightsBytes { get; init; }
    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;
    public string? Notes { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}
