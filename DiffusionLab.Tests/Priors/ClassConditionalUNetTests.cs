using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

public sealed class ClassConditionalUNetTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-classes-unet-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static UNetConfig ThreeClasses => UNetConfig.Tiny() with { ClassNames = ["Flags", "Food & Drink", "Smileys & Emotion"] };

    [Fact]
    public void The_plain_prediction_is_the_no_class_row_and_classes_change_it()
    {
        using var scope = NewDisposeScope();
        using var model = UNetTests.Randomised(ThreeClasses, seed: 4);
        var x = randn(3, 3, 8, 8, generator: new Generator(1));
        var t = tensor(new long[] { 40, 400, 900 });
        var plain = model.PredictNoise(x, t);
        Assert.True(plain.eq(model.PredictNoise(x, t, full(3, 3L, dtype: int64))).all().item<bool>(), "no class is class number ClassCount");
        for (long c = 0; c < 3; c++)
        {
            var conditioned = model.PredictNoise(x, t, full(3, c, dtype: int64));
            Assert.True((conditioned - plain).abs().max().item<float>() > 1e-4, $"class {c} should change ε");
        }
        // Each sample gets its own class: a mixed batch equals each sample conditioned alone.
        var mixed = model.PredictNoise(x, t, tensor(new long[] { 2, 0, 1 }));
        for (int i = 0; i < 3; i++)
        {
            var alone = model.PredictNoise(x[i..(i + 1)], t[i..(i + 1)], tensor(new long[] { new long[] { 2, 0, 1 }[i] }));
            Assert.True((mixed[i..(i + 1)] - alone).abs().max().item<float>() < 1e-5);
        }
    }

    [Fact]
    public void A_new_class_embedding_starts_at_zero_so_every_class_predicts_alike()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet(ThreeClasses, NoiseSchedule.Linear(1000));
        Assert.Equal(4, model.state_dict()["class_embedding.weight"].shape[0]); // three classes and "no class"
        Assert.Equal(0f, model.state_dict()["class_embedding.weight"].abs().max().item<float>());
    }

    [Fact]
    public void An_unconditional_network_refuses_classes_and_a_conditional_one_wants_one_per_sample()
    {
        using var scope = NewDisposeScope();
        using var plain = UNetTests.RandomisedTinyUNet();
        using var conditional = UNetTests.Randomised(ThreeClasses, seed: 2);
        var x = randn(2, 3, 8, 8);
        var t = tensor(new long[] { 5, 6 });
        Assert.Contains("not class-conditional", Assert.Throws<ArgumentException>(() => plain.PredictNoise(x, t, zeros(2, dtype: int64))).Message);
        Assert.Contains("one class per sample", Assert.Throws<ArgumentException>(() => conditional.PredictNoise(x, t, zeros(3, dtype: int64))).Message);
    }

    [Theory]
    [InlineData(new string[0], "1 to 1000 classes")]
    [InlineData(new[] { "a", "a" }, "must differ")]
    [InlineData(new[] { "a", " " }, "needs a name")]
    public void Bad_class_lists_are_configuration_problems(string[] names, string expected) =>
        Assert.Contains((UNetConfig.Tiny() with { ClassNames = names }).Problems(), p => p.Contains(expected));

    [Fact]
    public void Checkpoints_keep_the_classes_and_unconditional_cards_do_not_mention_them()
    {
        using var scope = NewDisposeScope();
        using var model = UNetTests.Randomised(ThreeClasses, seed: 3);
        Card(model, "conditional");
        using var loaded = Checkpoints.Load(Path.Combine(folder, "conditional.json"));
        Assert.Equal(ThreeClasses.ClassNames, loaded.Config.ClassNames);
        model.eval();
        var x = randn(2, 3, 8, 8);
        var t = tensor(new long[] { 5, 600 });
        var classes = tensor(new long[] { 1, 2 });
        Assert.True(model.PredictNoise(x, t, classes).eq(loaded.PredictNoise(x, t, classes)).all().item<bool>());

        using var plain = UNetTests.RandomisedTinyUNet();
        Card(plain, "plain");
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "plain.json")));
        Assert.False(document.RootElement.GetProperty("config").TryGetProperty("classNames", out _));
    }

    void Card(UNet model, string name) => CheckpointTests.SaveCard(model, name, folder);

    [Fact]
    public void Guidance_extrapolates_from_the_unconditional_to_the_conditional_prediction()
    {
        using var scope = NewDisposeScope();
        using var model = UNetTests.Randomised(ThreeClasses, seed: 6);
        var x = randn(3, 3, 8, 8, generator: new Generator(2));
        var t = tensor(new long[] { 30, 500, 960 });
        long[] wanted = [2, 0, 1];
        var conditional = model.PredictNoise(x, t, tensor(wanted));
        var unconditional = model.PredictNoise(x, t);
        foreach (var w in new[] { 0.0, 1.0, 3.0 })
        {
            using var guided = new ClassGuidedDenoiser(model, wanted, w);
            var expected = conditional * (1 + w) - unconditional * w;
            double difference = (guided.PredictNoise(x, t) - expected).abs().max().item<float>();
            Assert.True(difference < 1e-5, $"w = {w}: off by {difference}");
        }
        using var two = new ClassGuidedDenoiser(model, [0, 1], 1);
        Assert.Throws<ArgumentException>(() => two.PredictNoise(x, t));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassGuidedDenoiser(model, [3], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ClassGuidedDenoiser(model, [0], -1));
        using var plain = UNetTests.RandomisedTinyUNet();
        Assert.Contains("not class-conditional", Assert.Throws<ArgumentException>(() => new ClassGuidedDenoiser(plain, [0], 1)).Message);
    }
}
