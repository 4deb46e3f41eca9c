using DiffusionLab.Engine.Priors;

namespace DiffusionLab.Engine.Generators;

/// <summary>
/// The VAE and GAN that ship in models/, loaded once per process and shared by every run (frozen and
/// in eval mode, so concurrent runs only read them).
/// </summary>
public static class BundledGenerators
{
    /// <summary>The convolutional VAE trained on pixel faces (its decoder is the generator).</summary>
    public const string Vae = "vae-faces-32";

    /// <summary>The GAN trained on pixel faces with the hinge loss and a spectrally normalised discriminator.</summary>
    public const string Gan = "gan-faces-32";

    /// <summary>The GAN trained on pixel faces with the plain non-saturating loss: its history ships, its weights need not.</summary>
    public const string PlainGan = "gan-plain-faces-32";

    static readonly Dictionary<string, ConvGenerator> Loaded = [];
    static readonly Lock Gate = new();

    /// <summary>The generator of the card &lt;models&gt;/&lt;name&gt;.json (default: the content root's models/); a <see cref="CheckpointException"/> names what is missing or wrong.</summary>
    public static ConvGenerator Load(string name, string? modelsFolder = null)
    {
        var cardPath = Path.GetFullPath(Path.Combine(modelsFolder ?? ContentRoot.Models(ContentRoot.Find()), name + ".json"));
        lock (Gate)
        {
            // Only successes are kept: a model installed while the server runs is found on the next run.
            if (Loaded.TryGetValue(cardPath, out var generator)) return generator;
            generator = GeneratorCheckpoints.LoadGenerator(cardPath);
            Loaded[cardPath] = generator;
            return generator;
        }
    }
}
