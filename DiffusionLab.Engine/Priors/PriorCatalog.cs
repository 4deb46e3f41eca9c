using DiffusionLab.Engine.Imaging;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>What the lab shows about a prior before loading it.</summary>
/// <param name="SampleShape">[C, H, W] of one image (or [D] for vector priors).</param>
/// <param name="Domain">What its images look like, for the picker ("32×32 pixel-art faces").</param>
public sealed record PriorInfo(string Id, string DisplayName, string Domain, long[] SampleShape)
{
    /// <summary>Side of its square images in pixels (0 for a vector prior).</summary>
    public long ImageSide => SampleShape.Length == 3 ? SampleShape[2] : 0;
}

/// <summary>
/// The priors this server offers and their gallery images. A prior is loaded once, on first
/// use, and shared by every run (priors are read-only during sampling).
/// </summary>
public sealed class PriorCatalog
{
    readonly Dictionary<string, (PriorInfo Info, Func<IDenoiser> Load)> entries = new(StringComparer.Ordinal);
    readonly Dictionary<string, Lazy<IDenoiser>> loaded = new(StringComparer.Ordinal);
    readonly object gate = new();

    public PriorCatalog(string galleryDirectory) => GalleryDirectory = galleryDirectory;

    /// <summary>Id of the exact image-shaped Gaussian mixture (see <see cref="GaussianMixturePresets.ImageDemo"/>).</summary>
    public const string ImageDemoId = "gmm-image";
    /// <summary>The prior the lab opens on when models/ has it: the bundled pixel-faces UNet.</summary>
    public const string PreferredDefaultId = "pixel-faces-32";

    /// <summary>
    /// The lab's priors: every usable model in <c>models/</c> under <paramref name="root"/>, and the
    /// exact image-shaped Gaussian mixture "gmm-image", which needs no weights and has a known posterior.
    /// <paramref name="modelsFolder"/>, when given, is read instead of <c>models/</c> (the gallery stays the root's).
    /// </summary>
    /// <param name="device">Where the networks are loaded; by default the process's <see cref="ComputeDevice.Current"/>.</param>
    public static PriorCatalog ForContentRoot(string root, string? modelsFolder = null, Device? device = null)
    {
        var catalog = new PriorCatalog(ContentRoot.Gallery(root));
        var models = new ModelCatalog(modelsFolder ?? ContentRoot.Models(root));
        device ??= ComputeDevice.Current;
        foreach (var entry in models.List())
        {
            if (entry.Problem is not null || (entry.Card is null && entry.Imported is null)) continue;
            int size = entry.ImageSize;
            var domain = entry.Card?.Dataset is { } d ? $"{size}×{size} {d.Name}"
                : entry.Imported is { } imported ? $"{size}×{size} images, imported {imported.Architecture} ({imported.Source})"
                : $"{size}×{size} images";
            catalog.Register(new PriorInfo(entry.Name, entry.Name, domain, [entry.Channels, size, size]),
                // The network as trained: clipping x̂0 is each solver's own setting (DDPM, DDIM and DPS clip by default,
                // as ADM and the DPS code do; the reverse SDE, the probability-flow ODE and ScoreALD do not).
                () => models.LoadPrior(entry.Name, device));
        }
        catalog.Register(new PriorInfo(ImageDemoId, "Gaussian mixture (exact)",
                "32×32 smooth patterns from a Gaussian mixture whose posterior is known exactly", [3, 32, 32]),
            () => GaussianMixturePresets.ImageDemo());
        return catalog;
    }

    /// <summary>The prior a new visitor gets: the bundled default model when present, else the exact mixture.</summary>
    public string DefaultId => entries.ContainsKey(PreferredDefaultId) ? PreferredDefaultId : ImageDemoId;

    /// <summary>Folder with one sub-folder of PNG images per prior id.</summary>
    public string GalleryDirectory { get; }

    public IReadOnlyList<PriorInfo> Priors => entries.Values.Select(e => e.Info).ToArray();

    public IReadOnlyCollection<string> Ids => entries.Keys;

    public void Register(PriorInfo info, Func<IDenoiser> load)
    {
        lock (gate) entries[info.Id] = (info, load);
    }

    public PriorInfo? Find(string id) => entries.TryGetValue(id, out var e) ? e.Info : null;

    /// <summary>The prior, loaded on first use (thread-safe; one instance per id).</summary>
    public IDenoiser Load(string id)
    {
        Lazy<IDenoiser> lazy;
        lock (gate)
        {
            if (!entries.TryGetValue(id, out var entry)) throw new KeyNotFoundException($"There is no prior called '{id}'.");
            if (!loaded.TryGetValue(id, out lazy!))
                loaded[id] = lazy = new Lazy<IDenoiser>(entry.Load, LazyThreadSafetyMode.ExecutionAndPublication);
        }
        return lazy.Value;
    }

    /// <summary>Names (file stems) of the gallery images for a prior, sorted.</summary>
    public IReadOnlyList<string> Gallery(string priorId)
    {
        var folder = Path.Combine(GalleryDirectory, priorId);
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, "*.png")
            .Select(f => Path.GetFileNameWithoutExtension(f)!)
            .Where(n => ImageReference.TryParse("gallery:" + n, out _) is null)
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>
    /// Readable names of a prior's gallery images, from an optional labels.tsv beside them
    /// (file stem, tab, label; written by tools/fetch-data.sh for emoji, whose file names are code points).
    /// Names without a label, or with an unusable one, are simply missing from the result.
    /// </summary>
    public IReadOnlyDictionary<string, string> GalleryLabels(string priorId)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (ImageReference.TryParse("gallery:" + priorId, out _) is not null) return labels; // the id becomes a path: check it like a name
        var file = Path.Combine(GalleryDirectory, priorId, "labels.tsv");
        if (!File.Exists(file) || new FileInfo(file).Length > 256 * 1024) return labels;
        foreach (var line in File.ReadLines(file))
        {
            var parts = line.Split('\t');
            if (parts.Length != 2) continue;
            var label = parts[1].Trim();
            if (label.Length is > 0 and <= 100 && !label.Any(char.IsControl)) labels[parts[0].Trim()] = label;
        }
        return labels;
    }

    public string? GalleryFile(string priorId, string name)
    {
        if (ImageReference.TryParse("gallery:" + name, out _) is not null) return null; // never build paths from unchecked names
        var file = Path.Combine(GalleryDirectory, priorId, name + ".png");
        return File.Exists(file) ? file : null;
    }
}
