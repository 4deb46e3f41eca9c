using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Training;

/// <summary>
/// Weights trained by the PyTorch mirror (tools/gpu-train/train_unet.py) must mean the same
/// network here: the fixture was written by PyTorch with every weight random, together with
/// PyTorch's ε on a fixed probe.
/// </summary>
public sealed class CheckpointImportTests : IDisposable
{
    const string Name = "mirror-tiny";
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-import-").FullName;
    readonly string source, output;

    public CheckpointImportTests()
    {
        source = Path.Combine(folder, "from-pytorch");
        output = Path.Combine(folder, "models");
        Directory.CreateDirectory(source);
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch-unet")))
            File.Copy(file, Path.Combine(source, Path.GetFileName(file)));
    }

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void TorchSharp_computes_the_same_epsilon_as_the_pytorch_mirror()
    {
        var result = CheckpointImport.Import(source, Name, output, heldout: null, dataset: null);

        Assert.True(result.MaxEpsilonDifference <= 1e-5, $"max |Δε| = {result.MaxEpsilonDifference}");
        Assert.True(result.ReferenceEpsilonScale > 0.1, "the probe's ε should be far from zero, or the comparison proves nothing");
        var card = result.Card;
        Assert.Equal(26_755, card.ParameterCount);
        Assert.Equal(2, card.Config.AttentionHeads);
        Assert.Contains("PyTorch", card.Notes);
        Assert.Equal(LossWeighting.Uniform, card.LossWeighting); // the fixture's record predates the field: uniform

        // The written model loads through the ordinary path (hash and length checked) and still matches.
        using var model = Checkpoints.Load(Path.Combine(output, Name + ".json"));
        var (difference, _) = CheckpointImport.CompareWithReference(model, Path.Combine(source, Name + ".reference.safetensors"));
        Assert.True(difference <= 1e-5, $"max |Δε| after the round trip = {difference}");
    }

    [Fact]
    public void A_network_that_computes_something_else_is_refused()
    {
        // Move one reference value a little: the weights still fit by name and shape, but the function differs.
        var referencePath = Path.Combine(source, Name + ".reference.safetensors");
        using (var scope = NewDisposeScope())
        {
            var reference = TorchSharp.PyBridge.Safetensors.LoadStateDict(referencePath);
            var epsilon = reference["epsilon"].clone();
            epsilon[0, 0, 0, 0] = epsilon[0, 0, 0, 0] + tensor(0.01f);
            reference["epsilon"] = epsilon;
            TorchSharp.PyBridge.Safetensors.SaveStateDict(referencePath, reference);
        }

        var e = Assert.Throws<CheckpointException>(() => CheckpointImport.Import(source, Name, output, null, null));
        Assert.Contains(referencePath, e.Message);
        Assert.Contains("do not compute the same function", e.Message);
        Assert.False(File.Exists(Path.Combine(output, Name + ".json")), "nothing is written for a refused import");
    }

    [Fact]
    public void A_record_that_does_not_fit_the_weights_names_the_weights_file()
    {
        var recordPath = Path.Combine(source, Name + ".training.json");
        File.WriteAllText(recordPath, File.ReadAllText(recordPath).Replace("\"baseChannels\": 4", "\"baseChannels\": 8", StringComparison.Ordinal));

        var e = Assert.Throws<CheckpointException>(() => CheckpointImport.Import(source, Name, output, null, null));
        Assert.Contains(Path.Combine(source, Name + ".safetensors"), e.Message);
        Assert.Contains("shape", e.Message);
    }

    [Fact]
    public void The_recorded_loss_weighting_reaches_the_card()
    {
        var recordPath = Path.Combine(source, Name + ".training.json");
        var record = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(recordPath))!.AsObject();
        record["lossWeighting"] = "P2"; // as train_unet.py --loss-weighting p2 writes it
        File.WriteAllText(recordPath, record.ToJsonString());

        var card = CheckpointImport.Import(source, Name, output, null, null).Card;

        Assert.Equal(LossWeighting.P2, card.LossWeighting);
        Assert.Equal(LossWeighting.P2, Checkpoints.ReadCard(Path.Combine(output, Name + ".json")).LossWeighting);
    }

    [Fact]
    public void A_missing_probe_is_named()
    {
        File.Delete(Path.Combine(source, Name + ".reference.safetensors"));
        var e = Assert.Throws<CheckpointException>(() => CheckpointImport.Import(source, Name, output, null, null));
        Assert.Contains("reference probe is missing", e.Message);
    }

    [Fact]
    public void The_held_out_loss_in_the_card_is_measured_here()
    {
        var images = Path.Combine(folder, "heldout");
        Directory.CreateDirectory(images);
        var generator = new Generator(11);
        for (int i = 0; i < 6; i++)
        {
            using var scope = NewDisposeScope();
            ImageCodec.WriteFile(Path.Combine(images, $"{i}.png"), rand(3, 8, 8, generator: generator) * 2 - 1);
        }
        using var heldout = ImageFolderDataset.Load(images, 8);

        var card = CheckpointImport.Import(source, Name, output, heldout, null).Card;

        Assert.Equal(["250", "50", "500", "750"], card.HeldoutLoss.Keys.Order());
        using var model = Checkpoints.Load(Path.Combine(output, Name + ".json"));
        var expected = DdpmTrainer.HeldoutLoss(model, heldout);
        foreach (var (t, loss) in card.HeldoutLoss)
        {
            Assert.True(double.IsFinite(loss) && loss > 0);
            Assert.Equal(expected[t], loss, 9);
        }
    }

    const string ClassName = "mirror-tiny-classes";

    [Fact]
    public void A_class_conditional_network_computes_the_same_epsilon_as_the_pytorch_mirror()
    {
        var result = CheckpointImport.Import(source, ClassName, output, heldout: null, dataset: null);

        Assert.True(result.MaxEpsilonDifference <= 1e-5, $"max |Δε| = {result.MaxEpsilonDifference}");
        Assert.Equal(["a", "b", "c"], result.Card.Config.ClassNames!);
        Assert.Equal(26_755 + 4 * 16, result.Card.ParameterCount); // the mirror-tiny network plus three classes and "no class"

        // The probe asked for classes, "no class" among them: without them ε is another function, so the match above
        // covers the class embedding, and "no class" is what the plain prediction uses.
        using var scope = NewDisposeScope();
        using var model = Checkpoints.Load(Path.Combine(output, ClassName + ".json"));
        var reference = TorchSharp.PyBridge.Safetensors.LoadStateDict(Path.Combine(source, ClassName + ".reference.safetensors"));
        var classes = reference["classes"].round().to(int64);
        Assert.Equal([0L, 3L, 1L, 2L], classes.data<long>().ToArray());
        using var _ = no_grad();
        var plain = model.PredictNoise(reference["x"], reference["t"].round().to(int64));
        Assert.True((plain - reference["epsilon"]).abs().max().item<float>() > 1e-2, "the classes should change ε");
        Assert.True((plain[1] - reference["epsilon"][1]).abs().max().item<float>() <= 1e-5, "sample 1 asked for no class");
    }

    [Fact]
    public void A_probe_without_the_classes_the_network_learns_is_refused()
    {
        var referencePath = Path.Combine(source, ClassName + ".reference.safetensors");
        using (var scope = NewDisposeScope())
        {
            var reference = TorchSharp.PyBridge.Safetensors.LoadStateDict(referencePath);
            reference.Remove("classes");
            TorchSharp.PyBridge.Safetensors.SaveStateDict(referencePath, reference);
        }
        var e = Assert.Throws<CheckpointException>(() => CheckpointImport.Import(source, ClassName, output, null, null));
        Assert.Contains(referencePath, e.Message);
        Assert.Contains("'classes'", e.Message);
    }

    [Fact]
    public void A_class_conditional_import_also_measures_the_loss_told_the_class()
    {
        using var scope = NewDisposeScope();
        using var heldout = new ImageFolderDataset(rand(6, 3, 8, 8, generator: new Generator(12)) * 2 - 1, "made-in-test",
            tensor(new long[] { 0, 1, 2, 0, 1, 2 }), ["a", "b", "c"]);

        var card = CheckpointImport.Import(source, ClassName, output, heldout, null).Card;

        Assert.NotNull(card.ClassHeldoutLoss);
        Assert.Equal(card.HeldoutLoss.Keys.Order(), card.ClassHeldoutLoss.Keys.Order());
        Assert.All(card.HeldoutLoss.Keys, t => Assert.NotEqual(card.HeldoutLoss[t], card.ClassHeldoutLoss[t]));
        Assert.Equal(card.ClassHeldoutLoss, Checkpoints.ReadCard(Path.Combine(output, ClassName + ".json")).ClassHeldoutLoss);
    }
}
