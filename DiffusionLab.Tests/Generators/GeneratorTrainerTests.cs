using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Generators;

public sealed class GeneratorTrainerTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-generators-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    /// <summary>32 tiny 8 × 8 images: a flat colour on the left half, white on the right, the colour drawn at random.</summary>
    static ImageFolderDataset TinyData(int count = 32)
    {
        using var scope = NewDisposeScope();
        var colours = rand([count, 3, 1, 1], generator: new Generator(3)).Times(2).Minus(1);
        var images = ones(count, 3, 8, 8);
        images[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 4)] = colours.expand(count, 3, 8, 4);
        return new ImageFolderDataset(images.MoveToOuterDisposeScope(), "tiny");
    }

    static VaeTrainingOptions TinyVae() => new() { ModelName = "tiny-vae", Config = GeneratorConfig.Tiny(), BatchSize = 16, LearningRate = 3e-3, Seed = 7 };

    static GanTrainingOptions TinyGan(GanObjective objective) => new()
    {
        ModelName = "tiny-gan", Config = GeneratorConfig.Tiny(), Objective = objective, BatchSize = 16, LearningRate = 2e-3, Seed = 7,
    };

    static void AssertSameWeights(nn.Module expected, nn.Module actual)
    {
        var actualWeights = actual.state_dict();
        Assert.Equal(expected.state_dict().Keys.Order(), actualWeights.Keys.Order());
        foreach (var (name, tensor) in expected.state_dict())
            Assert.True(tensor.eq(actualWeights[name]).all().item<bool>(), $"{name} differs");
    }

    [Fact]
    public void A_few_steps_lower_the_vae_loss_on_a_tiny_dataset()
    {
        using var data = TinyData();
        using var trainer = new VaeTrainer(TinyVae());
        double FixedLoss()
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            using var loss = trainer.Vae.Loss(data.Images, zeros(data.Count, 4), 1, 0.1);
            return loss.Loss.item<float>();
        }
        double before = FixedLoss();
        for (int i = 0; i < 30; i++) Assert.NotEmpty(trainer.TrainStep(data).Losses);
        Assert.Equal(30, trainer.Step);
        double after = FixedLoss();
        Assert.True(after < 0.5 * before, $"the VAE loss went from {before:F1} to only {after:F1}");
    }

    [Theory]
    [InlineData(GanObjective.Plain)]
    [InlineData(GanObjective.HingeSpectral)]
    public void The_discriminators_steps_lower_its_loss_and_the_generators_steps_lower_its_own(GanObjective objective)
    {
        using var data = TinyData();
        using var trainer = new GanTrainer(TinyGan(objective));
        using var scope = NewDisposeScope();
        var real = data.Images.narrow(0, 0, 16);
        var codes = randn([16, 4], generator: new Generator(11));
        // Each player, the other held still, on one fixed batch: its loss before the first and after the last step.
        double firstD = trainer.DiscriminatorStep(real, codes)!.Value.Loss;
        for (int i = 0; i < 15; i++) trainer.DiscriminatorStep(real, codes);
        double lastD = trainer.DiscriminatorStep(real, codes)!.Value.Loss;
        Assert.True(lastD < 0.8 * firstD, $"{objective}: the discriminator's loss went from {firstD:F3} to only {lastD:F3}");
        double firstG = trainer.GeneratorStep(codes)!.Value;
        for (int i = 0; i < 15; i++) trainer.GeneratorStep(codes);
        double lastG = trainer.GeneratorStep(codes)!.Value;
        Assert.True(lastG < firstG - 0.1, $"{objective}: the generator's loss went from {firstG:F3} to only {lastG:F3}");
    }

    [Fact]
    public void The_two_gan_losses_are_the_papers()
    {
        using var scope = NewDisposeScope();
        var real = tensor(new[] { 2f, -1f });
        var fake = tensor(new[] { 0.5f, -3f });
        static double Softplus(double v) => Math.Log(1 + Math.Exp(v));
        Assert.Equal((Softplus(-2) + Softplus(1)) / 2 + (Softplus(0.5) + Softplus(-3)) / 2, GanTrainer.DiscriminatorLoss(GanObjective.Plain, real, fake).item<float>(), 5);
        Assert.Equal((Softplus(-0.5) + Softplus(3)) / 2, GanTrainer.GeneratorLoss(GanObjective.Plain, fake).item<float>(), 5);
        // Hinge: max(0, 1 − D(x)) + max(0, 1 + D(G(z))); the generator −D(G(z)).
        Assert.Equal((0 + 2) / 2.0 + (1.5 + 0) / 2.0, GanTrainer.DiscriminatorLoss(GanObjective.HingeSpectral, real, fake).item<float>(), 5);
        Assert.Equal(1.25, GanTrainer.GeneratorLoss(GanObjective.HingeSpectral, fake).item<float>(), 5);
    }

    [Fact]
    public void A_resumed_gan_takes_exactly_the_steps_the_uninterrupted_run_takes()
    {
        using var data = TinyData();
        var state = Path.Combine(folder, "gan-state");
        using var straight = new GanTrainer(TinyGan(GanObjective.HingeSpectral));
        for (int i = 0; i < 6; i++) straight.TrainStep(data);
        using (var first = new GanTrainer(TinyGan(GanObjective.HingeSpectral)))
        {
            for (int i = 0; i < 3; i++) first.TrainStep(data);
            first.SaveState(state);
            first.TrainStep(data); // a step after the checkpoint that a killed run loses
        }
        using var resumed = GanTrainer.Resume(state);
        Assert.Equal(3, resumed.Step);
        for (int i = 0; i < 3; i++) resumed.TrainStep(data);
        resumed.SaveState(state);
        AssertSameWeights(straight.Generator, resumed.Generator);
        AssertSameWeights(straight.Discriminator, resumed.Discriminator);
        // The history holds every step once, in order, with the losses the straight run saw.
        var history = GeneratorHistory.Read(state);
        Assert.Equal([1L, 2, 3, 4, 5, 6], history.Select(h => h.Step));
        straight.SaveState(Path.Combine(folder, "straight"));
        var straightHistory = GeneratorHistory.Read(Path.Combine(folder, "straight"));
        Assert.Equal(straightHistory.Select(h => h.Losses["g_loss"]), history.Select(h => h.Losses["g_loss"]));
    }

    [Fact]
    public void A_resumed_vae_takes_exactly_the_steps_the_uninterrupted_run_takes()
    {
        using var data = TinyData();
        var state = Path.Combine(folder, "vae-state");
        using var straight = new VaeTrainer(TinyVae());
        for (int i = 0; i < 5; i++) straight.TrainStep(data);
        using (var first = new VaeTrainer(TinyVae()))
        {
            for (int i = 0; i < 2; i++) first.TrainStep(data);
            first.SaveState(state);
        }
        using var resumed = VaeTrainer.Resume(state, o => o with { Beta = 50 }); // the objective is the state's, whatever is asked
        Assert.Equal(1, resumed.Options.Beta);
        for (int i = 0; i < 3; i++) resumed.TrainStep(data);
        AssertSameWeights(straight.Vae, resumed.Vae);
    }

    [Fact]
    public void Exported_generators_load_bit_for_bit_and_generate_the_same_images()
    {
        using var data = TinyData();
        using var vaeTrainer = new VaeTrainer(TinyVae());
        using var ganTrainer = new GanTrainer(TinyGan(GanObjective.Plain));
        for (int i = 0; i < 3; i++) { vaeTrainer.TrainStep(data); ganTrainer.TrainStep(data); }
        var models = Path.Combine(folder, "models");
        var vaeCard = vaeTrainer.Export(models, data);
        var ganCard = ganTrainer.Export(models, null);
        Assert.Equal(GeneratorKind.Vae, vaeCard.Kind);
        Assert.Equal("gan-plain", ganCard.Objective);
        Assert.Equal(3, ganCard.TrainingSteps);
        Assert.Equal(new[] { "loss", "reconstruction", "kl", "mse" }, vaeCard.HeldoutLosses.Keys);
        Assert.Equal(64, ganCard.WeightsSha256.Length);

        using var vae = GeneratorCheckpoints.LoadVae(Path.Combine(models, "tiny-vae.json"));
        AssertSameWeights(vaeTrainer.Vae, vae);
        using var decoder = GeneratorCheckpoints.LoadGenerator(Path.Combine(models, "tiny-vae.json"));
        AssertSameWeights(vaeTrainer.Vae.Decoder, decoder);
        using var gan = GeneratorCheckpoints.LoadGenerator(Path.Combine(models, "tiny-gan.json"));
        AssertSameWeights(ganTrainer.Generator, gan);

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var z = randn([4, 4], generator: new Generator(1));
        ganTrainer.Generator.eval();
        Assert.True(ganTrainer.Generator.call(z).eq(gan.call(z)).all().item<bool>());
        Assert.All(gan.parameters(), p => Assert.False(p.requires_grad));
    }

    [Fact]
    public void A_checkpoint_that_does_not_fit_is_refused_with_a_named_error()
    {
        using var data = TinyData();
        using var trainer = new GanTrainer(TinyGan(GanObjective.HingeSpectral));
        var models = Path.Combine(folder, "models");
        var card = trainer.Export(models, null);
        var cardPath = Path.Combine(models, "tiny-gan.json");

        // A card that claims a wider network than its weights.
        File.WriteAllText(cardPath, (card with { Config = card.Config with { Width = 16 } }).ToJson());
        var shape = Assert.Throws<CheckpointException>(() => GeneratorCheckpoints.LoadGenerator(cardPath));
        Assert.Contains("shape", shape.Message);
        Assert.Contains("blocks.0.conv.weight", shape.Message);

        // A GAN's card where a VAE is asked for.
        File.WriteAllText(cardPath, card.ToJson());
        var kind = Assert.Throws<CheckpointException>(() => GeneratorCheckpoints.LoadVae(cardPath));
        Assert.Contains("describes a GAN, not a VAE", kind.Message);

        // Damaged weights.
        var weights = Path.Combine(models, "tiny-gan.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(weights, bytes);
        var hash = Assert.Throws<CheckpointException>(() => GeneratorCheckpoints.LoadGenerator(cardPath));
        Assert.Contains("SHA-256", hash.Message);

        // A UNet's card is not a generator's.
        File.WriteAllText(cardPath, """{ "name": "x", "config": { "imageSize": 32 }, "scheduleKind": "linear" }""");
        Assert.Throws<CheckpointException>(() => GeneratorCheckpoints.LoadGenerator(cardPath));

        // A training state for another architecture.
        var state = Path.Combine(folder, "state");
        trainer.SaveState(state);
        var stateFile = Path.Combine(state, "training-state.json");
        File.WriteAllText(stateFile, File.ReadAllText(stateFile).Replace("\"width\": 8", "\"width\": 16", StringComparison.Ordinal));
        var resume = Assert.Throws<TrainingException>(() => GanTrainer.Resume(state));
        Assert.Contains("does not fit", resume.Message);
    }

    [Fact]
    public void Non_finite_data_stops_training_with_a_message()
    {
        using var broken = new ImageFolderDataset(ScalarArithmetic.Full([16, 3, 8, 8], double.NaN, ScalarType.Float32), "nan");
        using var vae = new VaeTrainer(TinyVae());
        var error = Assert.Throws<TrainingException>(() => vae.TrainStep(broken));
        Assert.Contains("VAE loss became NaN", error.Message);
        Assert.Equal(0, vae.Step);
        using var gan = new GanTrainer(TinyGan(GanObjective.Plain));
        Assert.Contains("discriminator's loss became NaN", Assert.Throws<TrainingException>(() => gan.TrainStep(broken)).Message);
    }

    [Fact]
    public void A_training_job_checkpoints_writes_grids_and_a_card_and_resumes()
    {
        var data = Path.Combine(folder, "data");
        using (var tiny = TinyData(20))
        {
            for (int i = 0; i < 20; i++)
            {
                var split = Path.Combine(data, i < 16 ? "train" : "heldout");
                Directory.CreateDirectory(split);
                ImageCodec.WriteFile(Path.Combine(split, $"{i:D2}.png"), tiny.Images[i]);
            }
        }
        var job = new GeneratorTrainingJob
        {
            Family = GeneratorFamily.StableGan, ModelName = "job-gan", Data = data, StateFolder = Path.Combine(folder, "job"),
            Config = GeneratorConfig.Tiny(), TotalSteps = 4, BatchSize = 8, CheckpointEverySteps = 2, SampleEvery = 2, ReportEvery = 1,
        };
        var log = new List<string>();
        var progress = new List<GeneratorProgress>();
        Assert.Equal(0, GeneratorTraining.Run(job, log.Add, progress.Add));
        Assert.Equal([1L, 2, 3, 4], progress.Select(p => p.Step));
        Assert.All(progress, p => Assert.Equal(new[] { "d_loss", "g_loss", "d_real", "d_fake" }, p.Losses.Keys));
        Assert.Contains(log, l => l.Contains("16 training images", StringComparison.Ordinal));
        Assert.Equal(new[] { "step-000000.png", "step-000002.png", "step-000004.png" },
            Directory.GetFiles(Path.Combine(job.StateFolder, "samples")).Select(Path.GetFileName).Order());
        var card = GeneratorCheckpoints.ReadCard(Path.Combine(job.StateFolder, "job-gan.json"));
        Assert.Equal(4, card.TrainingSteps);
        Assert.Equal("gan-hinge-sn", card.Objective);

        Assert.Equal(0, GeneratorTraining.Run(job with { TotalSteps = 6 }, log.Add));
        Assert.Contains(log, l => l.Contains("resumed job-gan at step 4", StringComparison.Ordinal));
        Assert.Equal(6, GeneratorCheckpoints.ReadCard(Path.Combine(job.StateFolder, "job-gan.json")).TrainingSteps);
        Assert.Equal(6, GeneratorHistory.Read(job.StateFolder).Count);

        var wrongKind = Assert.Throws<TrainingException>(() => GeneratorTraining.Run(job with { Family = GeneratorFamily.PlainGan, TotalSteps = 8 }, log.Add));
        Assert.Contains("gan-hinge-sn", wrongKind.Message);
    }
}
