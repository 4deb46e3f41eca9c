using DiffusionLab.Engine.Priors;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

public sealed class CheckpointTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-checkpoints-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    ModelCard SaveTiny(UNet model, string name = "tiny") => SaveCard(model, name, folder);

    /// <summary>Saves <paramref name="model"/> with a minimal card as &lt;folder&gt;/&lt;name&gt;.json and .safetensors.</summary>
    internal static ModelCard SaveCard(UNet model, string name, string folder) => Checkpoints.Save(model, new ModelCard
    {
        Name = name,
        Config = model.Config,
        ScheduleKind = model.Schedule.Kind,
        ScheduleSteps = model.Schedule.TrainingSteps,
        WeightsFile = name + ".safetensors",
        WeightsSha256 = "",
        TrainingSteps = 3,
        EmaRate = 0.999,
    }, folder);

    string CardPath(string name = "tiny") => Path.Combine(folder, name + ".json");
    string WeightsPath(string name = "tiny") => Path.Combine(folder, name + ".safetensors");

    [Fact]
    public void Round_trip_is_bit_exact()
    {
        using var scope = NewDisposeScope();
        using var model = UNetTests.RandomisedTinyUNet();
        var card = SaveTiny(model);
        Assert.Equal(64, card.WeightsSha256.Length);
        Assert.Equal(model.ParameterCount, card.ParameterCount);

        using var loaded = Checkpoints.Load(CardPath());
        Assert.All(loaded.parameters(), p => Assert.False(p.requires_grad, "a loaded prior is read-only; autograd must not track its weights"));
        var saved = model.state_dict();
        var restored = loaded.state_dict();
        Assert.Equal(saved.Keys.OrderBy(k => k), restored.Keys.OrderBy(k => k));
        foreach (var (name, tensor) in saved)
            Assert.True(tensor.eq(restored[name]).all().item<bool>(), $"tensor {name} changed in the round trip");

        model.eval();
        var x = randn(2, 3, 8, 8);
        var t = tensor(new long[] { 5, 600 });
        Assert.True(model.PredictNoise(x, t).eq(loaded.PredictNoise(x, t)).all().item<bool>());
    }

    [Fact]
    public void Catalog_lists_models_and_loads_by_name()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        SaveTiny(model, "first");
        SaveTiny(model, "second");
        File.WriteAllText(Path.Combine(folder, "broken.json"), "{ not json");
        File.WriteAllText(Path.Combine(folder, "training-state.json"), "{\"step\": 3}"); // not a card: ignored
        var catalog = new ModelCatalog(folder);
        var entries = catalog.List();
        Assert.Equal(new[] { "broken", "first", "second" }, entries.Select(e => e.Name));
        Assert.Null(entries.Single(e => e.Name == "first").Problem);
        Assert.Contains("broken.json", entries.Single(e => e.Name == "broken").Problem);
        using var loaded = catalog.Load("second");
        Assert.Equal("second", loaded.Name);
        var e = Assert.Throws<CheckpointException>(() => catalog.Load("third"));
        Assert.Contains("third", e.Message);
        Assert.Contains("first, second", e.Message);
    }

    [Fact]
    public void Truncated_weights_are_named_as_truncated()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        SaveTiny(model);
        var bytes = File.ReadAllBytes(WeightsPath());
        File.WriteAllBytes(WeightsPath(), bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains(WeightsPath(), e.Message);
        Assert.Contains("truncated", e.Message);

        // Without a card (an external file), the header check still catches it.
        using var fresh = UNetTests.RandomisedTinyUNet();
        var direct = Assert.Throws<CheckpointException>(() => Checkpoints.LoadWeights(fresh, WeightsPath()));
        Assert.Contains("truncated", direct.Message);
    }

    [Fact]
    public void Changed_bytes_fail_the_hash_check()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        SaveTiny(model);
        var bytes = File.ReadAllBytes(WeightsPath());
        bytes[^5] ^= 0x40;
        File.WriteAllBytes(WeightsPath(), bytes);
        var e = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains(WeightsPath(), e.Message);
        Assert.Contains("SHA-256", e.Message);
    }

    [Fact]
    public void Card_describing_another_architecture_names_the_mismatched_tensor()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        var card = SaveTiny(model);
        var wider = card with { Config = card.Config with { BaseChannels = 12 } };
        File.WriteAllText(CardPath(), wider.ToJson());
        var e = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains(WeightsPath(), e.Message);
        Assert.Contains("shape", e.Message);

        var deeper = card with { Config = card.Config with { ResBlocksPerLevel = 2 } };
        File.WriteAllText(CardPath(), deeper.ToJson());
        var missing = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains("missing", missing.Message);
    }

    [Fact]
    public void Missing_weights_and_bad_cards_are_named()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        SaveTiny(model);
        File.Delete(WeightsPath());
        var e = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains(WeightsPath(), e.Message);
        Assert.Contains("missing", e.Message);

        File.WriteAllText(CardPath(), "{\"name\": 3");
        var json = Assert.Throws<CheckpointException>(() => Checkpoints.Load(CardPath()));
        Assert.Contains("not valid JSON", json.Message);

        var noCard = Assert.Throws<CheckpointException>(() => Checkpoints.Load(Path.Combine(folder, "absent.json")));
        Assert.Contains("absent.json", noCard.Message);
    }

    [Fact]
    public void Card_round_trips_through_json()
    {
        using var model = UNetTests.RandomisedTinyUNet();
        var card = SaveTiny(model) with { HeldoutLoss = new() { ["50"] = 0.25 } };
        File.WriteAllText(CardPath(), card.ToJson());
        var read = Checkpoints.ReadCard(CardPath());
        Assert.Equal(card.Config.ChannelMultipliers, read.Config.ChannelMultipliers);
        Assert.Equal(card.Config.AttentionResolutions, read.Config.AttentionResolutions);
        Assert.Equal(card.Config with { ChannelMultipliers = read.Config.ChannelMultipliers, AttentionResolutions = read.Config.AttentionResolutions }, read.Config);
        Assert.Equal(card.WeightsSha256, read.WeightsSha256);
        Assert.Equal(0.25, read.HeldoutLoss["50"]);
        using var document = JsonDocument.Parse(File.ReadAllText(CardPath()));
        Assert.Equal(8, document.RootElement.GetProperty("imageSize").GetInt32());
    }
}
