namespace DiffusionLab.Engine.Priors;

/// <summary>What a models/ folder holds: one entry per model card, whether or not its weights are usable.</summary>
public sealed class ModelCatalog(string folder)
{
    public string Folder { get; } = folder;

    /// <summary>A card found in the folder, or the reason it could not be read. A network trained here has a <see cref="Card"/>;
    /// one imported from guided-diffusion or diffusers an <see cref="Imported"/> card instead.</summary>
    public sealed record Entry(string Name, string CardPath, ModelCard? Card, string? Problem, ImportedModelCard? Imported = null)
    {
        /// <summary>Side of its square images (0 when the card could not be read).</summary>
        public int ImageSize => Card?.ImageSize ?? Imported?.ImageSize ?? 0;
        public int Channels => Card?.Channels ?? Imported?.Channels ?? 0;
    }

    /// <summary>Finds the models/ folder by walking up from the working directory and the program's folder.</summary>
    public static ModelCatalog FindDefault()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "models");
                if (Directory.Exists(candidate) && Directory.EnumerateFiles(candidate, "*.json").Any()) return new ModelCatalog(candidate);
            }
        }
        return new ModelCatalog(Path.Combine(Directory.GetCurrentDirectory(), "models"));
    }

    public IReadOnlyList<Entry> List()
    {
        if (!Directory.Exists(Folder)) return [];
        var entries = new List<Entry>();
        foreach (var cardPath in Directory.EnumerateFiles(Folder, "*.json").OrderBy(p => p, StringComparer.Ordinal))
        {
            var name = Path.GetFileNameWithoutExtension(cardPath);
            if (!LooksLikeModelCard(cardPath, out var architecture)) continue;
            try
            {
                if (ImportedModels.IsImportedArchitecture(architecture))
                {
                    var imported = ImportedModels.ReadCard(cardPath);
                    entries.Add(new Entry(name, cardPath, null, MissingWeights(imported.WeightsFile), imported));
                    continue;
                }
                var card = Checkpoints.ReadCard(cardPath);
                entries.Add(new Entry(name, cardPath, card, MissingWeights(card.WeightsFile)));
            }
            catch (CheckpointException e) { entries.Add(new Entry(name, cardPath, null, e.Message)); }
        }
        return entries;
    }

    /// <summary>Other JSON files (a trainer's state, notes) may share the folder: a card is one that names its weights file. Unreadable JSON still counts, so it is reported.
    /// The VAE's and GAN's cards live here too; they name their training objective, which a diffusion prior's card does not, and are not priors.</summary>
    static bool LooksLikeModelCard(string path, out string? architecture)
    {
        architecture = null;
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            var root = document.RootElement;
            if (root.ValueKind != System.Text.Json.JsonValueKind.Object || !root.TryGetProperty("weightsFile", out _) || root.TryGetProperty("objective", out _)) return false;
            if (root.TryGetProperty("architecture", out var kind) && kind.ValueKind == System.Text.Json.JsonValueKind.String) architecture = kind.GetString();
            return true;
        }
        catch (System.Text.Json.JsonException) { return true; }
    }

    string? MissingWeights(string weightsFile)
    {
        var weights = Path.Combine(Folder, weightsFile);
        return File.Exists(weights) ? null : $"{weights}: the weights file is missing";
    }

    /// <summary>Loads any prior by name (a network trained here or an imported one) onto <paramref name="device"/>
    /// (default <see cref="ComputeDevice.Current"/>); an unknown name or a bad file is a <see cref="CheckpointException"/>.</summary>
    public IDenoiser LoadPrior(string name, TorchSharp.torch.Device? device = null)
    {
        var cardPath = CardPath(name);
        return List().FirstOrDefault(e => e.Name == name)?.Imported is not null ? ImportedModels.Load(cardPath, device) : Checkpoints.Load(cardPath, device);
    }

    /// <summary>Loads a model by name; an unknown name or a bad file is a <see cref="CheckpointException"/> saying which.</summary>
    public UNet Load(string name, TorchSharp.torch.Device? device = null) => Checkpoints.Load(CardPath(name), device);

    string CardPath(string name)
    {
        if (string.IsNullOrWhiteSpace(name) || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains(".."))
            throw new CheckpointException($"'{name}' is not a model name");
        var cardPath = Path.Combine(Folder, name + ".json");
        if (!File.Exists(cardPath))
        {
            var known = List().Select(e => e.Name).ToList();
            throw new CheckpointException($"{cardPath}: no model card named '{name}' in {Folder}" +
                (known.Count > 0 ? $" (models there: {string.Join(", ", known)})" : " (the folder holds no models)"));
        }
        return cardPath;
    }
}
