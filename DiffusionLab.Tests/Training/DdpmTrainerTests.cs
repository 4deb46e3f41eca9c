using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Training;

public sealed class DdpmTrainerTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-training-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>A tiny data set written as PNG files: 8×8 images, each a flat colour on its left half and white on its right.</summary>
    string WriteTinyDataset()
    {
        var images = Path.Combine(folder, "images");
        Directory.CreateDirectory(images);
        var random = new Random(3);
        for (int i = 0; i < 24; i++)
        {
            using var scope = NewDisposeScope();
            var image = ones(3, 8, 8);
            var colour = tensor(new[] { random.NextSingle() * 2 - 1, random.NextSingle() * 2 - 1, random.NextSingle() * 2 - 1 }).reshape(3, 1, 1);
            image[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 4)] = colour.expand(3, 8, 4);
            ImageCodec.WriteFile(Path.Combine(images, $"{i:D2}.png"), image);
        }
        return images;
    }

    static TrainingOptions TinyOptions() => new()
    {
        ModelName = "tiny",
        Config = UNetConfig.Tiny(),
        BatchSize = 16,
        LearningRate = 3e-3,
        WarmupSteps = 5,
        EmaRate = 0.9,
        Seed = 7,
    };

    static double FixedLoss(UNet network, ImageFolderDataset data)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x0 = data.Images;
        var t = arange(0, x0.shape[0], dtype: int64) * 40 + 20; // spread over 20 … 940
        var noise = randn(x0.shape, generator: new Generator(99));
        return DdpmTrainer.Loss(network, x0, t, noise).item<float>();
    }

    [Fact]
    public void A_few_steps_lower_the_loss_on_a_tiny_dataset()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        Assert.Equal(24, data.Count);
        using var trainer = new DdpmTrainer(TinyOptions());
        double before = FixedLoss(trainer.Model, data);
        for (int i = 0; i < 40; i++) Assert.False(trainer.TrainStep(data).Skipped);
        double after = FixedLoss(trainer.Model, data);
        Assert.Equal(40, trainer.Step);
        Assert.True(after < 0.8 * before, $"loss went from {before:F4} to only {after:F4}");
    }

    [Fact]
    public void Resume_restores_weights_average_and_step()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        var state = Path.Combine(folder, "state");
        using var trainer = new DdpmTrainer(TinyOptions());
        for (int i = 0; i < 3; i++) trainer.TrainStep(data);
        trainer.SaveState(state);
        using var resumed = DdpmTrainer.Resume(state);
        Assert.Equal(3, resumed.Step);
        foreach (var (name, tensor) in trainer.Model.state_dict()) Assert.True(tensor.eq(resumed.Model.state_dict()[name]).all().item<bool>(), name);
        foreach (var (name, tensor) in trainer.Average.state_dict()) Assert.True(tensor.eq(resumed.Average.state_dict()[name]).all().item<bool>(), name);
        Assert.False(resumed.TrainStep(data).Skipped);
        Assert.Equal(4, resumed.Step);
    }

    [Fact]
    public void Export_writes_a_card_with_heldout_losses_that_loads()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        using var trainer = new DdpmTrainer(TinyOptions());
        trainer.TrainStep(data);
        var losses = trainer.HeldoutLoss(data);
        Assert.Equal(new[] { "50", "250", "500", "750" }, losses.Keys);
        Assert.All(losses.Values, v => Assert.True(double.IsFinite(v) && v > 0));
        var card = trainer.Export(Path.Combine(folder, "models"), losses);
        Assert.Equal(1, card.TrainingSteps);
        using var loaded = Checkpoints.Load(Path.Combine(folder, "models", "tiny.json"));
        foreach (var (name, tensor) in trainer.Average.state_dict()) Assert.True(tensor.eq(loaded.state_dict()[name]).all().item<bool>(), name);
    }

    [Fact]
    public void P2_weighting_scales_each_samples_error_by_one_minus_alpha_bar()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        using var trainer = new DdpmTrainer(TinyOptions());
        for (int i = 0; i < 3; i++) trainer.TrainStep(data);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var network = trainer.Average;
        long[] steps = [0, 10, 200, 500, 800, 999];
        var x0 = data.Images.narrow(0, 0, steps.Length);
        var t = tensor(steps);
        var noise = randn(x0.shape, generator: new Generator(5));
        double weighted = DdpmTrainer.Loss(network, x0, t, noise, LossWeighting.P2).item<float>();
        // Closed form: each sample's own ε-MSE (the uniform loss of a batch of one) times 1 − ᾱ_t, averaged.
        double expected = 0, uniform = 0;
        for (int i = 0; i < steps.Length; i++)
        {
            double own = DdpmTrainer.Loss(network, x0.narrow(0, i, 1), t.narrow(0, i, 1), noise.narrow(0, i, 1)).item<float>();
            expected += (1 - network.Schedule.AlphasCumprod[steps[i]]) * own / steps.Length;
            uniform += own / steps.Length;
        }
        Assert.Equal(expected, weighted, expected * 1e-5);
        Assert.Equal(uniform, DdpmTrainer.Loss(network, x0, t, noise).item<float>(), uniform * 1e-5);
        Assert.True(weighted < 0.9 * uniform, $"P2 ({weighted}) should weigh the t = 0 and t = 10 terms down against uniform ({uniform})");
    }

    [Fact]
    public void A_resumed_run_keeps_or_changes_its_loss_weighting_and_the_card_records_it()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        var state = Path.Combine(folder, "state");
        using (var trainer = new DdpmTrainer(TinyOptions()))
        {
            trainer.TrainStep(data);
            trainer.SaveState(state);
            var card = trainer.Export(Path.Combine(folder, "uniform"), new());
            Assert.Equal(LossWeighting.Uniform, card.LossWeighting);
            // Uniform is left out, so a card reads and writes as it did before the field existed.
            Assert.DoesNotContain("lossWeighting", File.ReadAllText(Path.Combine(folder, "uniform", "tiny.json")));
        }
        using (var switched = DdpmTrainer.Resume(state, stored => stored with { LossWeighting = LossWeighting.P2 }))
        {
            Assert.False(switched.TrainStep(data).Skipped);
            switched.SaveState(state);
            switched.Export(Path.Combine(folder, "p2"), new());
        }
        using var again = DdpmTrainer.Resume(state);
        Assert.Equal(LossWeighting.P2, again.Options.LossWeighting);
        Assert.Equal(LossWeighting.P2, Checkpoints.ReadCard(Path.Combine(folder, "p2", "tiny.json")).LossWeighting);
        Assert.Contains("\"lossWeighting\": \"P2\"", File.ReadAllText(Path.Combine(folder, "p2", "tiny.json")));
    }

    [Fact]
    public void A_non_finite_loss_stops_training_with_a_clear_message()
    {
        using var scope = NewDisposeScope();
        var images = ones(4, 3, 8, 8);
        images[1, 0, 0, 0] = tensor(float.NaN);
        using var data = new ImageFolderDataset(images, "made-in-test");
        using var trainer = new DdpmTrainer(TinyOptions() with { BatchSize = 8 });
        var e = Assert.Throws<TrainingException>(() => trainer.TrainStep(data));
        Assert.Contains("NaN", e.Message);
        Assert.Contains("step 0", e.Message);
    }

    /// <summary>Eight flat-colour images, two of each of three classes and two of a fourth never drawn here.</summary>
    static ImageFolderDataset LabelledTinySet(string[] names)
    {
        var images = rand(8, 3, 8, 8, generator: new Generator(4)) * 2 - 1;
        return new ImageFolderDataset(images, "made-in-test", tensor(new long[] { 0, 0, 1, 1, 2, 2, 0, 1 }), names);
    }

    static readonly string[] Classes = ["a", "b", "c"];

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.0)]
    public void Class_dropout_decides_which_embedding_rows_learn(double dropout)
    {
        using var scope = NewDisposeScope();
        using var data = LabelledTinySet(Classes);
        using var trainer = new DdpmTrainer(TinyOptions() with { Config = UNetConfig.Tiny() with { ClassNames = Classes }, ClassDropout = dropout });
        for (int i = 0; i < 3; i++) Assert.False(trainer.TrainStep(data).Skipped);
        var rows = trainer.Model.state_dict()["class_embedding.weight"].abs().sum(1).data<float>().ToArray();
        // Rows 0-2 are the classes, row 3 is "no class": dropping every class trains only row 3, dropping none leaves it untouched.
        if (dropout == 1.0)
        {
            Assert.All(rows[..3], r => Assert.Equal(0f, r));
            Assert.True(rows[3] > 0);
        }
        else
        {
            Assert.All(rows[..3], r => Assert.True(r > 0));
            Assert.Equal(0f, rows[3]);
        }
    }

    [Fact]
    public void A_class_conditional_preview_also_draws_each_class()
    {
        using var scope = NewDisposeScope();
        using var trainer = new DdpmTrainer(TinyOptions() with { Config = UNetConfig.Tiny() with { ClassNames = Classes } });
        var path = Path.Combine(folder, "samples", "step-000000.png");
        trainer.WriteSampleGrid(path, count: 6, steps: 3);
        Assert.True(File.Exists(path));
        Assert.True(File.Exists(Path.Combine(folder, "samples", "step-000000-classes.png")));
        Assert.Equal([0, 0, 1, 1, 2, 2], ClassGuidedDenoiser.EvenShares(6, 3));
        Assert.Equal([0, 0, 0, 1, 1, 2, 2], ClassGuidedDenoiser.EvenShares(7, 3));
    }

    [Fact]
    public void A_class_conditional_run_needs_the_classes_it_learns()
    {
        using var scope = NewDisposeScope();
        var options = TinyOptions() with { Config = UNetConfig.Tiny() with { ClassNames = Classes } };
        using var unlabelled = new ImageFolderDataset(zeros(4, 3, 8, 8), "made-in-test");
        using (var trainer = new DdpmTrainer(options))
            Assert.Contains("classes.tsv", Assert.Throws<TrainingException>(() => trainer.TrainStep(unlabelled)).Message);
        using var other = LabelledTinySet(["a", "b", "z"]);
        using (var trainer = new DdpmTrainer(options))
            Assert.Contains("are not the ones", Assert.Throws<TrainingException>(() => trainer.TrainStep(other)).Message);
        Assert.Contains("between 0 and 1", Assert.Throws<TrainingException>(() => new DdpmTrainer(options with { ClassDropout = 1.5 })).Message);
    }

    [Fact]
    public void The_class_heldout_loss_tells_each_image_its_own_class()
    {
        using var scope = NewDisposeScope();
        using var data = LabelledTinySet(Classes);
        using var trainer = new DdpmTrainer(TinyOptions() with { Config = UNetConfig.Tiny() with { ClassNames = Classes } });
        // A new network's zero-started output layers predict ε = 0 whatever it is told; wake them up.
        var generator = new Generator(6);
        using (no_grad())
            foreach (var (name, weight) in trainer.Average.state_dict())
                if (name != "class_embedding.weight" && weight.is_floating_point() && weight.eq(0).all().item<bool>()) weight.copy_(randn(weight.shape, generator: generator) * 0.1);
        // The class embedding starts at zero: told a class or not, it is the same network.
        Assert.Equal(trainer.HeldoutLoss(data), trainer.HeldoutLoss(data, withClasses: true));

        // Give class "c" (images 4 and 5) an embedding of its own: the told loss moves away from the plain one …
        using (no_grad()) trainer.Average.state_dict()["class_embedding.weight"][2].copy_(randn(trainer.Average.state_dict()["class_embedding.weight"].shape[1], generator: generator));
        var plain = trainer.HeldoutLoss(data);
        var told = trainer.HeldoutLoss(data, withClasses: true);
        Assert.All(plain.Keys, t => Assert.NotEqual(plain[t], told[t]));
        // … and comes back to it when those images are labelled with a class whose row is still zero.
        using var relabelled = new ImageFolderDataset(data.Images, "made-in-test", tensor(new long[] { 0, 0, 1, 1, 0, 1, 0, 1 }), Classes);
        Assert.Equal(plain, trainer.HeldoutLoss(relabelled, withClasses: true));

        var card = trainer.Export(Path.Combine(folder, "models"), plain, classHeldoutLoss: told);
        Assert.Equal(told, Checkpoints.ReadCard(Path.Combine(folder, "models", "tiny.json")).ClassHeldoutLoss);

        using var unlabelled = new ImageFolderDataset(data.Images, "no-classes-here");
        Assert.Contains("no-classes-here", Assert.Throws<TrainingException>(() => trainer.HeldoutLoss(unlabelled, withClasses: true)).Message);
    }

    [Fact]
    public void An_unconditional_card_has_no_class_heldout_loss()
    {
        using var data = ImageFolderDataset.Load(WriteTinyDataset(), 8);
        using var trainer = new DdpmTrainer(TinyOptions());
        trainer.Export(Path.Combine(folder, "models"), trainer.HeldoutLoss(data));
        var json = File.ReadAllText(Path.Combine(folder, "models", "tiny.json"));
        Assert.DoesNotContain("classHeldoutLoss", json);
        Assert.Null(Checkpoints.ReadCard(Path.Combine(folder, "models", "tiny.json")).ClassHeldoutLoss);
        Assert.Throws<ArgumentException>(() => trainer.HeldoutLoss(data, withClasses: true));
    }

    [Fact]
    public void Learning_rate_warms_up_linearly()
    {
        using var trainer = new DdpmTrainer(TinyOptions() with { WarmupSteps = 10, LearningRate = 1e-3 });
        Assert.Equal(1e-4, trainer.LearningRateAt(0), 12);
        Assert.Equal(5e-4, trainer.LearningRateAt(4), 12);
        Assert.Equal(1e-3, trainer.LearningRateAt(9), 12);
        Assert.Equal(1e-3, trainer.LearningRateAt(500), 12);
    }

    [Fact]
    public void Starting_from_a_checkpoint_takes_its_weights_for_both_networks_and_its_step()
    {
        using var source = new DdpmTrainer(TinyOptions() with { Seed = 1 });
        using var fresh = new DdpmTrainer(TinyOptions() with { Seed = 2 });
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = randn(2, 3, 8, 8, generator: new Generator(5));
        var t = tensor(new long[] { 10, 700 });
        // Fresh UNets start with a zero output layer; give the source weights of its own.
        foreach (var p in source.Average.parameters()) p.copy_(randn_like(p) * 0.05);
        Assert.False(source.Average.PredictNoise(x, t).allclose(fresh.Model.PredictNoise(x, t)));

        fresh.StartFrom(source.Average, 1234);

        Assert.Equal(1234, fresh.Step);
        Assert.True(source.Average.PredictNoise(x, t).eq(fresh.Model.PredictNoise(x, t)).all().item<bool>());
        Assert.True(source.Average.PredictNoise(x, t).eq(fresh.Average.PredictNoise(x, t)).all().item<bool>());
        // Adam's moments start afresh, so the learning rate warms up again from the step it carried on from.
        Assert.Equal(fresh.Options.LearningRate / fresh.Options.WarmupSteps, fresh.LearningRateAt(1234), 12);
        Assert.Equal(fresh.Options.LearningRate, fresh.LearningRateAt(1234 + fresh.Options.WarmupSteps), 12);
    }
}
