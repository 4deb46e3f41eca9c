using DiffusionLab.Engine.Diffusion;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// models/&lt;name&gt;.json for a network trained elsewhere and imported (an ADM UNet from guided-diffusion, a diffusers
/// UNet2DModel): its architecture and flags, the β schedule and prediction type it was trained with, where it came
/// from and under which licence its authors put it, and how closely TorchSharp reproduced the probe at import.
/// The weights beside it are float32 safetensors written by the import, with their SHA-256 here.
/// </summary>
public sealed record ImportedModelCard
{
    public const string AdmArchitecture = "adm-unet", DiffusersArchitecture = "diffusers-unet2d";

    public required string Name { get; init; }
    /// <summary><see cref="AdmArchitecture"/> or <see cref="DiffusersArchitecture"/>.</summary>
    public required string Architecture { get; init; }
    /// <summary>"epsilon", "v_prediction" or "sample", as diffusers' scheduler names them.</summary>
    public string Prediction { get; init; } = "epsilon";
    public AdmUNetConfig? Adm { get; init; }
    public DiffusersUNetConfig? Diffusers { get; init; }
    /// <summary>"linear" (β from <see cref="BetaStart"/> to <see cref="BetaEnd"/>, or ADM's 1e-4…0.02 scaled by 1000/T when absent),
    /// "scaled_linear" (√β linear) or "cosine".</summary>
    public required string ScheduleKind { get; init; }
    public required int ScheduleSteps { get; init; }
    public double? BetaStart { get; init; }
    public double? BetaEnd { get; init; }
    /// <summary>Where the weights came from, as the importer gave it (a file name, a URL, a hub id).</summary>
    public required string Source { get; init; }
    /// <summary>The licence as the weights' authors state it, or what the importer said about it.</summary>
    public required string Licence { get; init; }
    public required string WeightsFile { get; init; }
    public required string WeightsSha256 { get; init; }
    public long WeightsBytes { get; init; }
    public long ParameterCount { get; init; }
    /// <summary>Largest |ε_TorchSharp − ε_probe| at import, and the probe's mean |ε|; absent when imported without a probe.</summary>
    public double? ProbeMaxDifference { get; init; }
    public double? ProbeMeanEpsilon { get; init; }
    public DateTime CreatedUtc { get; init; } = DateTime.UtcNow;
    public string? Notes { get; init; }

    [JsonIgnore] public int ImageSize => Adm?.ImageSize ?? Diffusers?.SampleSize ?? 0;
    [JsonIgnore] public int Channels => Adm?.InChannels ?? Diffusers?.InChannels ?? 0;

    public string ToJson() => JsonSerializer.Serialize(this, ModelCard.Json);

    /// <summary>Every problem with the card, in words; empty when its network can be built.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        switch (Architecture)
        {
            case AdmArchitecture:
                if (Adm is null) problems.Add("an adm-unet card needs its flags (adm)");
                else problems.AddRange(Adm.Problems());
                break;
            case DiffusersArchitecture:
                if (Diffusers is null) problems.Add("a diffusers-unet2d card needs its configuration (diffusers)");
                else problems.AddRange(Diffusers.Problems());
                break;
            default:
                problems.Add($"architecture {Architecture} is not an imported one ({AdmArchitecture} or {DiffusersArchitecture})");
                break;
        }
        if (!TryParsePrediction(Prediction, out _)) problems.Add($"prediction {Prediction} is not epsilon, v_prediction or sample");
        if (Architecture == AdmArchitecture && Prediction != "epsilon") problems.Add("an ADM network predicts epsilon");
        try { Schedule(); }
        catch (ArgumentException e) { problems.Add(e.Message); }
        return problems;
    }

    public static bool TryParsePrediction(string? text, out PredictionType prediction)
    {
        (bool known, prediction) = text switch
        {
            "epsilon" => (true, PredictionType.Epsilon),
            "v_prediction" => (true, PredictionType.Velocity),
            "sample" => (true, PredictionType.Sample),
            _ => (false, PredictionType.Epsilon),
        };
        return known;
    }

    /// <summary>The training schedule the card names.</summary>
    public NoiseSchedule Schedule() => MakeSchedule(ScheduleKind, ScheduleSteps, BetaStart, BetaEnd);

    /// <summary>A β schedule by the names guided-diffusion and diffusers give them.</summary>
    public static NoiseSchedule MakeSchedule(string kind, int steps, double? betaStart = null, double? betaEnd = null)
    {
        if (steps is < 2 or > 100_000) throw new ArgumentException($"a schedule of {steps} steps is not one a network is trained on");
        if (kind == "cosine" || kind == "squaredcos_cap_v2") return NoiseSchedule.Cosine(steps);
        if (kind == "linear" && betaStart is null && betaEnd is null) return NoiseSchedule.Linear(steps);
        double start = betaStart ?? 1e-4, end = betaEnd ?? 0.02;
        if (!(start > 0 && end < 1 && start <= end)) throw new ArgumentException($"β must rise within (0, 1): beta_start {start}, beta_end {end}");
        var betas = new double[steps];
        for (int i = 0; i < steps; i++)
        {
            double u = (double)i / (steps - 1);
            betas[i] = kind switch
            {
                "linear" => start + (end - start) * u,
                "scaled_linear" => Math.Pow(Math.Sqrt(start) + (Math.Sqrt(end) - Math.Sqrt(start)) * u, 2),
                _ => throw new ArgumentException($"beta schedule {kind} is not read here (linear, scaled_linear, cosine or squaredcos_cap_v2)"),
            };
        }
        return new NoiseSchedule(kind, betas);
    }

    /// <summary>The card's network with fresh weights (the import fills them; <see cref="ImportedModels.Load"/> reads them from disk).</summary>
    public nn.Module Build()
    {
        var schedule = Schedule();
        if (Architecture == AdmArchitecture) return new AdmUNet(Adm!, schedule, Name);
        TryParsePrediction(Prediction, out var prediction);
        return new DiffusersUNet(Diffusers!, schedule, prediction, Name);
    }
}

/// <summary>Reads, writes and loads imported networks (see <see cref="ImportedModelCard"/>).</summary>
public static class ImportedModels
{
    /// <summary>Whether a JSON card names one of the imported architectures (the catalog reads it as an <see cref="ImportedModelCard"/>).</summary>
    public static bool IsImportedArchitecture(string? architecture) =>
        architecture is ImportedModelCard.AdmArchitecture or ImportedModelCard.DiffusersArchitecture;

    public static ImportedModelCard ReadCard(string cardPath) =>
        Checkpoints.ReadCard<ImportedModelCard>(cardPath, "not an imported network's card", card => card.Problems());

    /// <summary>Loads the network a card describes onto <paramref name="device"/> (default <see cref="ComputeDevice.Current"/>), read-only.</summary>
    public static IDenoiser Load(string cardPath, Device? device = null)
    {
        var card = ReadCard(cardPath);
        var weightsPath = Checkpoints.CheckWeightsFile(cardPath, card.WeightsFile, card.WeightsBytes, card.WeightsSha256);
        var model = card.Build();
        try
        {
            Checkpoints.LoadWeights(model, weightsPath);
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return Prepare(model, device);
    }

    /// <summary>Evaluation mode, on the device, weights frozen (solvers differentiate with respect to x_t only).</summary>
    public static IDenoiser Prepare(nn.Module model, Device? device = null)
    {
        model.eval();
        device ??= ComputeDevice.Current;
        if (device.type != DeviceType.CPU) model.to(device);
        foreach (var parameter in model.parameters()) parameter.requires_grad_(false);
        return (IDenoiser)model;
    }

    /// <summary>Writes &lt;folder&gt;/&lt;card.Name&gt;.safetensors (float32) and .json; returns the card as written.</summary>
    public static ImportedModelCard Save(nn.Module model, ImportedModelCard card, string folder)
    {
        var (weightsFile, sha256, bytes) = Checkpoints.WriteWeights(model, folder, card.Name);
        var written = card with
        {
            WeightsFile = weightsFile,
            WeightsSha256 = sha256,
            WeightsBytes = bytes,
            ParameterCount = model.parameters().Sum(p => p.numel()),
        };
        Checkpoints.WriteCard(written.ToJson(), folder, card.Name);
        return written;
    }
}
