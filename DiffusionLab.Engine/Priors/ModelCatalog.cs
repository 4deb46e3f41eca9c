namespace DiffusionLab.Engine.Priors;

/// <summary>What a models/ folder holds: one entry per model card, whether or not its weights are usable.</summary>
public sealed class ModelCatalog(string folder)
{
    public string Folder { get; } = folder;

    /// <summary>A card found in the folder, or the reason it could not be read.</summary>
    public sealed record Entry(string Name, string CardPath, ModelCard? Card, string? Problem);

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
            if (!LooksLikeModelCard(cardPath)) continue;
            try
            {
                var card = Checkpoints.ReadCard(cardPath);
                var weights = Path.Combine(Folder, card.WeightsFile);
                entries.Add(new Entry(name, cardPath, card, File.Exists(weights) ? null : $"{weights}: the weights file is missing"));
            }
            catch (CheckpointException e) { entries.Add(new Entry(name, cardPath, null, e.Message)); }
        }
        return entries;
    }

    /// <summary>Other JSON files (a trainer's state, notes) may share the folder: a card is one that names its weights file. Unreadable JSON still counts, so it is reported.
    /// The VAE's and GAN's cards live here too; they name their training objective, which a diffusion prior's card does not, and are not priors.</summary>
    static bool LooksLikeModelCard(string path)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(path));
            return document.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && document.RootElement.TryGetProperty("weightsFile", out _)
                && !document.RootElement.TryGetProperty("objective", out _);
        }
        catch (System.Text.Json.JsonException) { return true; }
    }

    /// <summary>Loads a model by name; an unknown name or a bad file is a <see cref="CheckpointException"/> saying which.</summary>
    public UNet Load(string name, TorchSharp.torch.Device? device = null)
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
        return Checkpoints.Load(cardPath, device);
    }
}
