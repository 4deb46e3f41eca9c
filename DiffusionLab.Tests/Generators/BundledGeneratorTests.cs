using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Generators;

public sealed class BundledGeneratorTests
{
    static string Models => ContentRoot.Models(ContentRoot.Find());

    [Theory]
    [InlineData(BundledGenerators.Vae, GeneratorKind.Vae)]
    [InlineData(BundledGenerators.Gan, GeneratorKind.Gan)]
    public void A_bundled_generator_loads_within_10_MB_and_makes_faces_from_codes(string name, GeneratorKind kind)
    {
        var card = GeneratorCheckpoints.ReadCard(Path.Combine(Models, name + ".json"));
        Assert.Equal(kind, card.Kind);
        Assert.True(card.WeightsBytes <= 10L * 1024 * 1024, $"{name} is {card.WeightsBytes} bytes; a bundled generator must stay within 10 MB");
        Assert.Equal("pixel-faces", card.Dataset?.Name);
        Assert.True(card.TrainingSteps > 0);
        var generator = BundledGenerators.Load(name);
        Assert.Same(generator, BundledGenerators.Load(name));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var z = randn([4, 64], generator: new Generator(1));
        var faces = generator.Generate(z);
        Assert.Equal(new long[] { 4, 3, 32, 32 }, faces.shape);
        Assert.True(faces.eq(generator.Generate(z)).all().item<bool>(), "the same z gave two different images");
        // A trained generator's images span the pixel range (white backgrounds, dark eyes), unlike an untrained one's grey.
        Assert.True(faces.max().item<float>() > 0.8 && faces.min().item<float>() < -0.3);
    }

    [Fact]
    public void The_generators_cards_share_models_but_are_not_offered_as_diffusion_priors()
    {
        var names = new ModelCatalog(Models).List().Select(e => e.Name).ToList();
        Assert.Contains("pixel-faces-32", names);
        Assert.DoesNotContain(BundledGenerators.Vae, names);
        Assert.DoesNotContain(BundledGenerators.Gan, names);
        Assert.Throws<CheckpointException>(() => GeneratorCheckpoints.LoadGenerator(Path.Combine(Models, "pixel-faces-32.json")));
    }
}
