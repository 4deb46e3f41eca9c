using DiffusionLab.Engine.Priors;
using System.Collections;
using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>What an import of a foreign checkpoint wrote, and how closely TorchSharp reproduced the probe (null without one).</summary>
public sealed record ForeignImportResult(ImportedModelCard Card, double? MaxDifference, double? MeanEpsilon);

/// <summary>
/// Brings the checkpoints the literature samples with into models/: openai guided-diffusion's ADM UNets (a .pt
/// state dict and the flags it was trained with) and diffusers' UNet2DModel folders. Nothing is taken on trust:
/// the flags must describe a network this engine builds, the weights must fit it name by name and shape by
/// shape, and, given a probe (x, t and the ε the authors' code computed), TorchSharp's ε must match it to
/// 1e-4 of the probe's mean |ε| — the same function, not just the same shapes. Weights stored as float16 are
/// read as float32. The import writes float32 safetensors and an <see cref="ImportedModelCard"/>.
/// </summary>
public static class ForeignCheckpoints
{
    /// <summary>Largest max |ε − ε_probe| accepted, relative to the probe's mean |ε|.</summary>
    public const double DefaultRelativeTolerance = 1e-4;

    /// <summary>guided-diffusion's training and sampling options that do not change the network's function (read and ignored).</summary>
    static readonly HashSet<string> IgnoredFlags = new(StringComparer.Ordinal)
    {
        "use_checkpoint", "model_path", "timestep_respacing", "use_kl", "rescale_learned_sigmas", "sigma_small", "batch_size",
        "microbatch", "lr", "weight_decay", "lr_anneal_steps", "ema_rate", "log_interval", "save_interval", "resume_checkpoint",
        "fp16_scale_growth", "schedule_sampler", "data_dir", "clip_denoised", "num_samples", "use_ddim",
    };

    // ---- guided-diffusion --------------------------------------------------------------------------------------

    /// <summary>Imports an ADM UNet: <paramref name="weightsPath"/> is its .pt state dict, <paramref name="flagsPath"/> its flags (JSON or YAML).</summary>
    public static ForeignImportResult ImportGuidedDiffusion(string weightsPath, string flagsPath, string name, string outFolder, string? probePath,
                                                            string? source = null, string? licence = null, double tolerance = DefaultRelativeTolerance)
    {
        var (config, scheduleKind, steps) = ReadAdmFlags(flagsPath);
        var card = new ImportedModelCard
        {
            Name = name,
            Architecture = ImportedModelCard.AdmArchitecture,
            Adm = config,
            ScheduleKind = scheduleKind,
            ScheduleSteps = steps,
            Source = source ?? Path.GetFileName(weightsPath),
            Licence = licence ?? "not stated at import (give --licence as the weights' authors state it)",
            WeightsFile = "",
            WeightsSha256 = "",
            Notes = $"guided-diffusion ADM UNet from {Path.GetFileName(weightsPath)} (sha256 {Checkpoints.Sha256(weightsPath)}); flags from {Path.GetFileName(flagsPath)}: {config}",
        };
        return Finish(card, weightsPath, probePath, outFolder, tolerance);
    }

    /// <summary>The ADM flags in <paramref name="path"/> (JSON, or YAML's flat "key: value" lines as DPS's configs/model_config.yaml has them),
    /// and the schedule (noise_schedule and diffusion_steps when present, else linear over 1000 steps as DPS samples).</summary>
    public static (AdmUNetConfig Config, string ScheduleKind, int Steps) ReadAdmFlags(string path)
    {
        var flags = ReadFlags(path);
        var unknown = flags.Keys.Where(k => !IgnoredFlags.Contains(k) && !AdmFlagNames.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new CheckpointException($"{path}: unknown flag{(unknown.Count == 1 ? "" : "s")} {string.Join(", ", unknown)} (the ADM flags are {string.Join(", ", AdmFlagNames)})");
        var reader = new FlagReader(path, flags);
        if (reader.Bool("predict_xstart", false)) throw new CheckpointException($"{path}: predict_xstart is true; only ε-predicting ADM networks are read");
        int steps = reader.Int("diffusion_steps", 1000);
        if (reader.Bool("rescale_timesteps", false) && steps != 1000)
            throw new CheckpointException($"{path}: rescale_timesteps with {steps} diffusion steps feeds the network t·1000/{steps}, which is not read here");
        var config = new AdmUNetConfig(
            ImageSize: reader.Int("image_size", 64),
            NumChannels: reader.Int("num_channels", 128),
            NumResBlocks: reader.Int("num_res_blocks", 2),
            ChannelMult: reader.Numbers("channel_mult"),
            LearnSigma: reader.Bool("learn_sigma", false),
            ClassCond: reader.Bool("class_cond", false),
            AttentionResolutions: reader.Numbers("attention_resolutions", "16").Select(r => (int)r).ToArray(),
            NumHeads: reader.Int("num_heads", 1),
            NumHeadChannels: reader.Int("num_head_channels", -1),
            NumHeadsUpsample: reader.Int("num_heads_upsample", -1),
            UseScaleShiftNorm: reader.Bool("use_scale_shift_norm", false),
            Dropout: reader.Number("dropout", 0),
            ResblockUpdown: reader.Bool("resblock_updown", false),
            UseFp16: reader.Bool("use_fp16", false),
            UseNewAttentionOrder: reader.Bool("use_new_attention_order", false),
            InChannels: reader.Int("in_channels", 3));
        var problems = config.Problems();
        if (problems.Count > 0) throw new CheckpointException($"{path}: {string.Join("; ", problems)}");
        var kind = reader.Text("noise_schedule", "linear");
        if (kind is not ("linear" or "cosine")) throw new CheckpointException($"{path}: noise_schedule {kind} is not linear or cosine");
        return (config, kind, steps);
    }

    static readonly string[] AdmFlagNames =
    [
        "image_size", "num_channels", "num_res_blocks", "channel_mult", "learn_sigma", "class_cond", "attention_resolutions", "num_heads",
        "num_head_channels", "num_heads_upsample", "use_scale_shift_norm", "dropout", "resblock_updown", "use_fp16", "use_new_attention_order",
        "in_channels", "noise_schedule", "diffusion_steps", "predict_xstart", "rescale_timesteps",
    ];

    /// <summary>Flags as text by name, from a JSON object or flat YAML.</summary>
    public static Dictionary<string, string> ReadFlags(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: the flags file is missing");
        var text = File.ReadAllText(path);
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (text.TrimStart().StartsWith('{'))
        {
            try
            {
                using var document = JsonDocument.Parse(text);
                foreach (var entry in document.RootElement.EnumerateObject())
                    flags[entry.Name] = entry.Value.ValueKind switch
                    {
                        JsonValueKind.String => entry.Value.GetString()!,
                        JsonValueKind.Array => string.Join(",", entry.Value.EnumerateArray().Select(e => e.ToString())),
                        JsonValueKind.Object => throw new CheckpointException($"{path}: flag {entry.Name} is an object; flags are numbers, booleans or strings"),
                        _ => entry.Value.ToString(),
                    };
            }
            catch (JsonException e) { throw new CheckpointException($"{path}: the flags are not valid JSON ({e.Message})", e); }
            return flags;
        }
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = StripComment(raw).TrimEnd();
            if (line.Trim().Length == 0 || line.Trim() is "---" or "...") continue;
            int colon = line.IndexOf(':');
            if (colon <= 0 || char.IsWhiteSpace(line[0]))
                throw new CheckpointException($"{path}, line {lineNumber}: \"{raw.Trim()}\" is not a flat \"key: value\" line (nested YAML is not read)");
            var key = line[..colon].Trim();
            var value = line[(colon + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\'')) value = value[1..^1];
            else if (value.StartsWith('[') && value.EndsWith(']')) value = value[1..^1].Replace(" ", "");
            flags[key] = value;
        }
        return flags;
    }

    static string StripComment(string line)
    {
        char? quote = null;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quote is null && (c == '"' || c == '\'')) quote = c;
            else if (quote == c) quote = null;
            else if (quote is null && c == '#' && (i == 0 || char.IsWhiteSpace(line[i - 1]))) return line[..i];
        }
        return line;
    }

    /// <summary>Reads typed flags, naming the file and the flag when a value does not parse.</summary>
    sealed class FlagReader(string path, Dictionary<string, string> flags)
    {
        public string Text(string name, string fallback) => flags.TryGetValue(name, out var v) && v.Length > 0 ? v : fallback;

        public int Int(string name, int fallback)
        {
            if (!flags.TryGetValue(name, out var v) || v.Length == 0) return fallback;
            return int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) ? n : throw Bad(name, v, "a whole number");
        }

        public double Number(string name, double fallback)
        {
            if (!flags.TryGetValue(name, out var v) || v.Length == 0) return fallback;
            return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw Bad(name, v, "a number");
        }

        public bool Bool(string name, bool fallback)
        {
            if (!flags.TryGetValue(name, out var v) || v.Length == 0) return fallback;
            return v.ToLowerInvariant() switch
            {
                "true" or "yes" or "t" or "y" or "1" => true,
                "false" or "no" or "f" or "n" or "0" => false,
                _ => throw Bad(name, v, "true or false"),
            };
        }

        public double[] Numbers(string name, string fallback = "")
        {
            var v = Text(name, fallback);
            if (v.Length == 0) return [];
            var parts = v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var numbers = new double[parts.Length];
            for (int i = 0; i < parts.Length; i++)
                if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[i])) throw Bad(name, v, "numbers separated by commas");
            return numbers;
        }

        CheckpointException Bad(string name, string value, string expected) => new($"{path}: flag {name} is \"{value}\", not {expected}");
    }

    // ---- diffusers ---------------------------------------------------------------------------------------------

    /// <summary>Imports a diffusers UNet2DModel from <paramref name="folder"/>: config.json, diffusion_pytorch_model.safetensors (or .bin)
    /// and scheduler_config.json beside them (or a pipeline folder with unet/ and scheduler/).</summary>
    public static ForeignImportResult ImportDiffusers(string folder, string name, string outFolder, string? probePath,
                                                      string? source = null, string? licence = null, double tolerance = DefaultRelativeTolerance)
    {
        if (!Directory.Exists(folder)) throw new CheckpointException($"{folder}: the folder is missing");
        var unetFolder = File.Exists(Path.Combine(folder, "config.json")) ? folder : Path.Combine(folder, "unet");
        var configPath = Path.Combine(unetFolder, "config.json");
        if (!File.Exists(configPath)) throw new CheckpointException($"{configPath}: the UNet's config.json is missing");
        var schedulerPath = new[] { Path.Combine(unetFolder, "scheduler_config.json"), Path.Combine(folder, "scheduler_config.json"), Path.Combine(folder, "scheduler", "scheduler_config.json") }
            .FirstOrDefault(File.Exists) ?? throw new CheckpointException($"{Path.Combine(folder, "scheduler_config.json")}: the scheduler's configuration is missing (it says the β schedule and the prediction type)");
        var weightsPath = new[] { "diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin" }.Select(f => Path.Combine(unetFolder, f)).FirstOrDefault(File.Exists)
            ?? throw new CheckpointException($"{Path.Combine(unetFolder, "diffusion_pytorch_model.safetensors")}: the weights are missing (neither .safetensors nor .bin)");

        DiffusersUNetConfig config;
        try { config = JsonSerializer.Deserialize<DiffusersUNetConfig>(File.ReadAllText(configPath)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new CheckpointException($"{configPath}: not a UNet2DModel configuration ({e.Message})", e); }
        var problems = config.Problems();
        if (problems.Count > 0) throw new CheckpointException($"{configPath}: {string.Join("; ", problems)}");

        SchedulerConfig scheduler;
        try { scheduler = JsonSerializer.Deserialize<SchedulerConfig>(File.ReadAllText(schedulerPath)) ?? throw new JsonException("empty"); }
        catch (JsonException e) { throw new CheckpointException($"{schedulerPath}: not a scheduler configuration ({e.Message})", e); }
        if (scheduler.TrainedBetas is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined })
            throw new CheckpointException($"{schedulerPath}: trained_betas are not read here (give the schedule by beta_schedule)");
        if (!ImportedModelCard.TryParsePrediction(scheduler.PredictionType, out _))
            throw new CheckpointException($"{schedulerPath}: prediction_type {scheduler.PredictionType} is not epsilon, v_prediction or sample");
        try { ImportedModelCard.MakeSchedule(scheduler.BetaSchedule, scheduler.NumTrainTimesteps, scheduler.BetaStart, scheduler.BetaEnd); }
        catch (ArgumentException e) { throw new CheckpointException($"{schedulerPath}: {e.Message}", e); }

        var card = new ImportedModelCard
        {
            Name = name,
            Architecture = ImportedModelCard.DiffusersArchitecture,
            Prediction = scheduler.PredictionType,
            Diffusers = config,
            ScheduleKind = scheduler.BetaSchedule,
            ScheduleSteps = scheduler.NumTrainTimesteps,
            BetaStart = scheduler.BetaSchedule is "cosine" or "squaredcos_cap_v2" ? null : scheduler.BetaStart,
            BetaEnd = scheduler.BetaSchedule is "cosine" or "squaredcos_cap_v2" ? null : scheduler.BetaEnd,
            Source = source ?? Path.GetFileName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar)),
            Licence = licence ?? ReadmeLicence(folder) ?? "not stated at import (give --licence as the weights' authors state it)",
            WeightsFile = "",
            WeightsSha256 = "",
            Notes = $"diffusers UNet2DModel from {Path.GetFileName(weightsPath)} (sha256 {Checkpoints.Sha256(weightsPath)}); " +
                    $"schedule {scheduler.BetaSchedule} over {scheduler.NumTrainTimesteps} steps, prediction {scheduler.PredictionType}",
        };
        return Finish(card, weightsPath, probePath, outFolder, tolerance);
    }

    sealed record SchedulerConfig
    {
        [System.Text.Json.Serialization.JsonPropertyName("num_train_timesteps")] public int NumTrainTimesteps { get; init; } = 1000;
        [System.Text.Json.Serialization.JsonPropertyName("beta_start")] public double BetaStart { get; init; } = 1e-4;
        [System.Text.Json.Serialization.JsonPropertyName("beta_end")] public double BetaEnd { get; init; } = 0.02;
        [System.Text.Json.Serialization.JsonPropertyName("beta_schedule")] public string BetaSchedule { get; init; } = "linear";
        [System.Text.Json.Serialization.JsonPropertyName("prediction_type")] public string PredictionType { get; init; } = "epsilon";
        [System.Text.Json.Serialization.JsonPropertyName("trained_betas")] public JsonElement? TrainedBetas { get; init; }
    }

    /// <summary>The licence a Hugging Face model card (README.md) states in its front matter ("license: apache-2.0"), if any.</summary>
    static string? ReadmeLicence(string folder)
    {
        var readme = Path.Combine(folder, "README.md");
        if (!File.Exists(readme) || new FileInfo(readme).Length > 1_000_000) return null;
        var lines = File.ReadLines(readme).Take(200).ToList();
        if (lines.Count == 0 || lines[0].Trim() != "---") return null;
        foreach (var line in lines.Skip(1).TakeWhile(l => l.Trim() != "---"))
            if (line.StartsWith("license:", StringComparison.Ordinal))
                return $"{line["license:".Length..].Trim()} (from the model card's front matter)";
        return null;
    }

    // ---- shared ------------------------------------------------------------------------------------------------

    static ForeignImportResult Finish(ImportedModelCard card, string weightsPath, string? probePath, string outFolder, double tolerance)
    {
        using var model = card.Build();
        FitWeights(model, ReadStateDict(weightsPath), weightsPath);
        var prior = ImportedModels.Prepare(model, CPU);
        double? difference = null, scale = null;
        if (probePath is not null)
        {
            var (d, s) = CompareProbe(prior, probePath);
            if (!(d <= tolerance * s))
                throw new CheckpointException($"{probePath}: TorchSharp's ε differs from the probe's by up to {d:G3}, more than {tolerance:G2} × the mean |ε| {s:G3}: " +
                                              "the weights and flags do not compute the function the probe was made with");
            (difference, scale) = (d, s);
        }
        var written = ImportedModels.Save(model, card with { ProbeMaxDifference = difference, ProbeMeanEpsilon = scale }, outFolder);
        return new ForeignImportResult(written, difference, scale);
    }

    /// <summary>A state dict from a PyTorch pickle (.pt, .pth, .bin; a "state_dict" entry is looked inside) or a safetensors file.</summary>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: the weights file is missing");
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
        {
            Checkpoints.ReadSafetensorsHeader(path); // a truncated or damaged file is reported before libtorch reads it
            try { return TorchSharp.PyBridge.Safetensors.LoadStateDict(path); }
            catch (Exception e) { throw new CheckpointException($"{path}: the safetensors weights could not be read ({e.Message})", e); }
        }
        Hashtable table;
        try
        {
            using var stream = File.OpenRead(path);
            table = TorchSharp.PyBridge.PyTorchUnpickler.UnpickleStateDict(stream, leaveOpen: false, skipTensorRead: false);
        }
        catch (Exception e) { throw new CheckpointException($"{path}: not a PyTorch state dict that can be read (damaged, truncated, or not saved with torch.save(model.state_dict())): {e.Message}", e); }
        if (table["state_dict"] is Hashtable inner) table = inner;
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in table)
        {
            if (entry.Key is not string key) continue;
            if (entry.Value is Tensor tensor) result[key] = tensor;
            else throw new CheckpointException($"{path}: entry '{key}' is not a tensor; the file holds more than a state dict");
        }
        if (result.Count == 0) throw new CheckpointException($"{path}: the file holds no tensors");
        return result;
    }

    /// <summary>diffusers files written before its attention rename call q, k, v and the output query, key, value and proj_attn.</summary>
    static string RenameLegacy(string key)
    {
        foreach (var (old, now) in new[] { (".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.") })
            if (key.Contains(".attentions.", StringComparison.Ordinal) && key.Contains(old, StringComparison.Ordinal)) return key.Replace(old, now, StringComparison.Ordinal);
        return key;
    }

    /// <summary>
    /// Copies <paramref name="weights"/> into <paramref name="model"/> as float32 after checking that they fit it name by name and
    /// shape by shape; the message names the file and the first mismatches. The tensors read are disposed.
    /// </summary>
    public static void FitWeights(nn.Module model, Dictionary<string, Tensor> weights, string path)
    {
        try
        {
            var renamed = weights.ToDictionary(e => RenameLegacy(e.Key), e => e.Value, StringComparer.Ordinal);
            var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            foreach (var (name, parameter) in model.named_parameters()) targets[name] = parameter;
            foreach (var (name, buffer) in model.named_buffers()) targets[name] = buffer;
            var missing = targets.Keys.Where(k => !renamed.ContainsKey(k)).ToList();
            var unexpected = renamed.Keys.Where(k => !targets.ContainsKey(k)).Order(StringComparer.Ordinal).ToList(); // a pickle's keys come unordered
            var misshapen = targets.Where(t => renamed.TryGetValue(t.Key, out var w) && !w.shape.SequenceEqual(t.Value.shape))
                .Select(t => $"'{t.Key}' is [{string.Join(", ", renamed[t.Key].shape)}] in the file but [{string.Join(", ", t.Value.shape)}] here").ToList();
            var problems = new List<string>();
            if (missing.Count > 0) problems.Add($"{missing.Count} tensor{(missing.Count == 1 ? "" : "s")} missing (e.g. {string.Join(", ", missing.Take(3))})");
            if (unexpected.Count > 0) problems.Add($"{unexpected.Count} unexpected (e.g. {string.Join(", ", unexpected.Take(3))})");
            if (misshapen.Count > 0) problems.Add($"{misshapen.Count} of another shape ({string.Join("; ", misshapen.Take(3))})");
            if (problems.Count > 0)
                throw new CheckpointException($"{path}: the weights do not fit the network the flags describe: {string.Join("; ", problems)}");
            var notFloat = renamed.Where(e => !e.Value.is_floating_point()).Select(e => e.Key).ToList();
            if (notFloat.Count > 0) throw new CheckpointException($"{path}: tensor '{notFloat[0]}' is {renamed[notFloat[0]].dtype}, not floating point");
            using var _ = no_grad();
            foreach (var (name, target) in targets)
            {
                using var value = renamed[name].to(float32);
                target.copy_(value);
            }
        }
        finally
        {
            foreach (var tensor in weights.Values) tensor.Dispose();
        }
    }

    /// <summary>Max |ε − ε_probe| over a probe file (F32 x [B, C, H, W], t [B], epsilon [B, C, H, W]) and the probe's mean |ε|.</summary>
    public static (double MaxDifference, double MeanEpsilon) CompareProbe(IDenoiser model, string probePath)
    {
        if (!File.Exists(probePath)) throw new CheckpointException($"{probePath}: the probe is missing");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Checkpoints.ReadSafetensorsHeader(probePath);
        Dictionary<string, Tensor> probe;
        try { probe = TorchSharp.PyBridge.Safetensors.LoadStateDict(probePath); }
        catch (Exception e) { throw new CheckpointException($"{probePath}: the probe could not be read ({e.Message})", e); }
        foreach (var key in new[] { "x", "t", "epsilon" })
            if (!probe.ContainsKey(key)) throw new CheckpointException($"{probePath}: the probe has no tensor '{key}' (it needs x, t and epsilon)");
        var x = probe["x"].to(float32);
        var expected = probe["epsilon"].to(float32);
        var shape = model.SampleShape;
        if (x.dim() != 4 || !x.shape.Skip(1).SequenceEqual(shape) || !expected.shape.SequenceEqual(x.shape) || probe["t"].dim() != 1 || probe["t"].shape[0] != x.shape[0])
            throw new CheckpointException($"{probePath}: the probe's x is [{string.Join(", ", x.shape)}], epsilon [{string.Join(", ", expected.shape)}] and t [{string.Join(", ", probe["t"].shape)}]; " +
                                          $"a [{string.Join(", ", shape)}] network needs x and epsilon [B, {string.Join(", ", shape)}] and t [B]");
        var t = probe["t"].round().to(int64);
        if (t.min().item<long>() < 0 || t.max().item<long>() >= model.Schedule.TrainingSteps)
            throw new CheckpointException($"{probePath}: the probe's timesteps must lie in 0…{model.Schedule.TrainingSteps - 1}");
        var epsilon = model.PredictNoise(x.to(model.Device), t.to(model.Device)).cpu();
        double difference = (epsilon - expected).abs().max().item<float>();
        double scale = expected.abs().mean().item<float>();
        return (difference, scale);
    }
}
