using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Cli;

/// <summary>
/// train-vae, train-gan and generators run as a user runs them, on tiny generators (z ∈ ℝ⁴, width 8)
/// and a tiny data folder of 32 × 32 images made here, so every run takes seconds.
/// </summary>
public sealed class GeneratorVerbsTests : IDisposable
{
    readonly CliProcess cli = new();

    public void Dispose() => cli.Dispose();

    /// <summary>The tiny configuration every training here uses, and a few checkpoints and grids along the way.</summary>
    static readonly string[] Tiny = ["--latent", "4", "--width", "8", "--batch", "8", "--checkpoint-every", "2", "--sample-every", "2", "--log-every", "1"];

    /// <summary>A data folder of 24 training and 8 held-out 32 × 32 images (a random flat colour left, white right), with a SOURCE.txt naming its licence.</summary>
    string TinyData()
    {
        var data = Path.Combine(cli.Folder, "data");
        using var scope = NewDisposeScope();
        var colours = rand([32, 3, 1, 1], generator: new Generator(3)).Times(2).Minus(1);
        var images = ones(32, 3, 32, 32);
        images[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(0, 16)] = colours.expand(32, 3, 32, 16);
        for (int i = 0; i < 32; i++)
        {
            var split = Path.Combine(data, i < 24 ? "train" : "heldout");
            Directory.CreateDirectory(split);
            ImageCodec.WriteFile(Path.Combine(split, $"{i:D2}.png"), images[i]);
        }
        File.WriteAllText(Path.Combine(data, "SOURCE.txt"), "Flat test colours made by the test. Licence: CC0 1.0.");
        return data;
    }

    static void Succeeded(CliProcess.Result result) => Assert.True(result.ExitCode == 0, result.ToString());

    static void RefusedInOneLine(CliProcess.Result result, int exitCode, string message)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        Assert.DoesNotContain("   at ", result.Output);
        var lines = (exitCode == 2 ? result.Stderr : result.Output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.Contains(message, StringComparison.Ordinal));
        if (exitCode == 2) Assert.True(lines.Length == 1, result.ToString());
    }

    [Fact]
    public void Train_vae_writes_state_history_grids_and_a_card_with_its_data_licence_and_checksum()
    {
        var data = TinyData();
        var result = cli.Run(["train-vae", "--data", data, "--out", "vae", "--model-name", "tiny-vae", "--steps", "4", "--beta", "0.5", .. Tiny]);
        Succeeded(result);
        Assert.Contains("new VAE tiny-vae", result.Output);
        Assert.Contains("β 0.5", result.Output);
        Assert.Contains("24 training images", result.Output);
        Assert.Matches(@"step 4/4 loss \S+, reconstruction \S+, kl \S+, mse \S+ \d+\.\d\d steps/s ETA", result.Flat);
        Assert.Contains("finished 4 steps", result.Output);

        var state = Path.Combine(cli.Folder, "vae");
        var cardPath = Path.Combine(state, "tiny-vae.json");
        var card = GeneratorCheckpoints.ReadCard(cardPath);
        Assert.Equal(GeneratorKind.Vae, card.Kind);
        Assert.Equal(4, card.TrainingSteps);
        Assert.Equal(0.5, card.Beta);
        Assert.Equal(new GeneratorConfig(32, 3, 4, 8), card.Config);
        Assert.Contains("convolutional VAE", card.Architecture);
        Assert.Equal("CC0 1.0 (design), MIT (code)", card.Dataset!.Licence);
        Assert.Equal(24, card.Dataset.TrainImages);
        Assert.Equal(Checkpoints.Sha256(Path.Combine(state, card.WeightsFile)), card.WeightsSha256);
        Assert.Equal(["loss", "reconstruction", "kl", "mse"], card.Losses.Keys);
        Assert.All(card.Losses.Values, v => Assert.True(double.IsFinite(v)));
        Assert.Null(card.Notes);
        Assert.Equal([1L, 2, 3, 4], GeneratorHistory.Read(state).Select(s => s.Step));
        Assert.Equal(["step-000000.png", "step-000002.png", "step-000004.png"], Directory.GetFiles(Path.Combine(state, "samples")).Select(Path.GetFileName).Order());
        // The card is the model: the exported generator loads from it.
        using var generator = GeneratorCheckpoints.LoadGenerator(cardPath);
        Assert.Equal(4, generator.Config.LatentDimension);
    }

    [Fact]
    public void A_resumed_gan_continues_from_its_step_and_a_state_is_never_overwritten_or_resumed_as_another_kind()
    {
        var data = TinyData();
        string[] first = ["train-gan", "--objective", "plain", "--data", data, "--out", "gan", "--model-name", "tiny-gan", .. Tiny];
        Succeeded(cli.Run([.. first, "--steps", "4"]));
        var state = Path.Combine(cli.Folder, "gan");
        var gridBefore = File.ReadAllBytes(Path.Combine(state, "samples", "step-000004.png"));

        RefusedInOneLine(cli.Run([.. first, "--steps", "6"]), 2, "already holds a training state: add --resume to continue it");
        Assert.Equal(4, GeneratorCheckpoints.ReadCard(Path.Combine(state, "tiny-gan.json")).TrainingSteps);
        RefusedInOneLine(cli.Run([.. first, "--steps", "6", "--resume", "--latent", "8"]), 2, "a resumed run keeps its architecture");

        var resumed = cli.Run(["train-gan", "--objective", "plain", "--data", data, "--out", "gan", "--model-name", "tiny-gan", "--steps", "6", "--resume", "--log-every", "1"]);
        Succeeded(resumed);
        Assert.Contains("resumed tiny-gan at step 4", resumed.Output);
        Assert.DoesNotContain("step 4/6", resumed.Output);
        Assert.Contains("step 5/6 d_loss", resumed.Output);
        Assert.Contains("finished 6 steps", resumed.Output);
        var card = GeneratorCheckpoints.ReadCard(Path.Combine(state, "tiny-gan.json"));
        Assert.Equal(6, card.TrainingSteps);
        Assert.Equal("gan-plain", card.Objective);
        Assert.Equal(["d_loss", "g_loss", "d_real", "d_fake"], card.Losses.Keys);
        // One history row per step, none repeated or missing across the two runs; earlier grids are kept.
        Assert.Equal([1L, 2, 3, 4, 5, 6], GeneratorHistory.Read(state).Select(s => s.Step));
        Assert.Equal(gridBefore, File.ReadAllBytes(Path.Combine(state, "samples", "step-000004.png")));

        var wrongKind = cli.Run(["train-gan", "--objective", "stable", "--data", data, "--out", "gan", "--model-name", "tiny-gan", "--steps", "8", "--resume"]);
        RefusedInOneLine(wrongKind, 1, "trains a gan-plain GAN, not a gan-hinge-sn one");
        var vaeOnGan = cli.Run(["train-vae", "--data", data, "--out", "gan", "--model-name", "tiny-gan", "--steps", "8", "--resume"]);
        Assert.True(vaeOnGan.ExitCode is 1 or 2, vaeOnGan.ToString());
        Assert.DoesNotContain("   at ", vaeOnGan.Output);
        Assert.Equal(6, GeneratorCheckpoints.ReadCard(Path.Combine(state, "tiny-gan.json")).TrainingSteps);

        // The run's history as the page ships it: averaged losses, both charts, the first and the last grid.
        var bundled = cli.Run("generator-history", "--state", "gan", "--out", "shipped", "--grids", "2", "--points", "3", "--title", "tiny plain GAN");
        Succeeded(bundled);
        var shipped = Path.Combine(cli.Folder, "shipped");
        Assert.Equal(["grid-000000.png", "grid-000006.png", "history.csv", "logits.svg", "losses.svg"], Directory.GetFiles(shipped).Select(Path.GetFileName).Order());
        Assert.Equal([2L, 4, 6], GeneratorHistory.Read(shipped).Select(s => s.Step));
        Assert.Contains("tiny plain GAN", File.ReadAllText(Path.Combine(shipped, "losses.svg")));
    }

    [Theory]
    [InlineData("train-vae", "--lr", "NaN", "--lr must be a positive finite number, not NaN")]
    [InlineData("train-gan", "--lr", "NaN", "--lr must be a positive finite number, not NaN")]
    [InlineData("train-gan", "--lr", "0", "--lr must be a positive finite number, not 0")]
    [InlineData("train-vae", "--beta", "NaN", "--beta must be a finite number of at least 0, not NaN")]
    [InlineData("train-vae", "--sigma-x", "0", "--sigma-x must be a positive finite number, not 0")]
    public void A_non_finite_or_non_positive_rate_is_refused_in_one_line_before_anything_is_written(string verb, string option, string value, string message)
    {
        var data = TinyData();
        var result = cli.Run(verb, "--data", data, "--out", "state", "--model-name", "m", "--steps", "2", option, value);
        RefusedInOneLine(result, 2, message);
        Assert.False(Directory.Exists(Path.Combine(cli.Folder, "state")));
    }

    [Fact]
    public void Sigterm_checkpoints_the_run_and_its_card_says_it_was_stopped_early()
    {
        var data = TinyData();
        var info = new ProcessStartInfo("dotnet") { WorkingDirectory = cli.Folder, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "DiffusionLab.Cli.dll"));
        foreach (var a in new[] { "train-vae", "--data", data, "--out", "vae", "--model-name", "tiny-vae", "--steps", "1000000", "--latent", "4", "--width", "8", "--batch", "8", "--log-every", "1", "--checkpoint-every", "1000000" })
            info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        using var training = new ManualResetEventSlim();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            if (e.Data.Contains(" step 3/", StringComparison.Ordinal)) training.Set();
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            // Guards against a hung process, not measures of speed.
            Assert.True(training.Wait(TimeSpan.FromMinutes(2)), $"no training steps were logged:\n{output}");
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])) kill.WaitForExit();
            Assert.True(process.WaitForExit(TimeSpan.FromMinutes(2)), $"the run did not stop on SIGTERM:\n{output}");
            process.WaitForExit();
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        string log;
        lock (output) log = output.ToString();
        Assert.True(process.ExitCode == 0, log);
        Assert.Contains("to continue: the same command with --resume", log);
        var state = Path.Combine(cli.Folder, "vae");
        var card = GeneratorCheckpoints.ReadCard(Path.Combine(state, "tiny-vae.json"));
        Assert.InRange(card.TrainingSteps, 3, 999_999);
        Assert.Contains($"partly trained: {card.TrainingSteps} of the planned 1000000 steps (training was stopped early)", card.Notes);
        Assert.Contains($"stopped at step {card.TrainingSteps}", log);
        Assert.Equal(card.TrainingSteps, GeneratorHistory.Read(state).Count);
    }

    [Fact]
    public void Generators_json_has_a_row_for_the_data_each_generator_and_the_diffusion_prior_and_writes_the_page_s_files()
    {
        var data = TinyData();
        string[] common = ["--data", data, "--latent", "4", "--width", "8", "--batch", "8", "--steps", "2"];
        Succeeded(cli.Run(["train-vae", "--out", "vae", "--model-name", "tiny-vae", .. common]));
        Succeeded(cli.Run(["train-gan", "--out", "gan", "--model-name", "tiny-gan", .. common]));

        var result = cli.Run("generators", "--data", data, "--generators", "vae/tiny-vae.json,gan/tiny-gan.json", "--samples", "16", "--heldout", "8",
            "--sampler-steps", "2", "--json", "--markdown", "figures/generators.md", "--figures", "page", "--beside-heldout", "docs",
            "--inverse", "--images", "2", "--corruptions", "denoise", "--solvers", "hqs,csgm-vae");
        Succeeded(result);
        using var json = JsonDocument.Parse(result.Stdout);
        var rows = json.RootElement.GetProperty("properties").EnumerateArray().ToList();
        Assert.Equal(["data (held-out images)", "VAE, 2 steps", "GAN (hinge + SN), 2 steps", "diffusion (pixel-faces-32, DDIM 2)"], rows.Select(r => r.GetProperty("name").GetString()));
        Assert.Equal([null, "tiny-vae", "tiny-gan", "pixel-faces-32"], rows.Select(r => r.GetProperty("model").GetString()));
        Assert.Equal([4, 16, 16, 16], rows.Select(r => r.GetProperty("count").GetInt32()));
        foreach (var row in rows)
        {
            var p = row.GetProperty("properties");
            foreach (var name in new[] { "sharpness", "diversity", "nearestTrainingDistance" }) Assert.True(p.GetProperty(name).GetDouble() >= 0, row.ToString());
            foreach (var name in new[] { "copiedShare", "precision", "recall" }) Assert.InRange(p.GetProperty(name).GetDouble(), 0, 1);
        }
        var inverse = json.RootElement.GetProperty("inverse").EnumerateArray().ToList();
        Assert.Equal(["hqs", "csgm-vae"], inverse.Select(r => r.GetProperty("solver").GetString()));
        Assert.All(inverse, r => Assert.InRange(r.GetProperty("psnr").GetDouble(), 5, 80));

        var markdown = File.ReadAllText(Path.Combine(cli.Folder, "figures", "generators.md"));
        Assert.Contains("| VAE, 2 steps | tiny-vae | 2 |", markdown);
        Assert.Contains("| corruption | HQS", markdown);
        // What the /generators page reads, in the engine's row format.
        var page = Path.Combine(cli.Folder, "page");
        var properties = JsonSerializer.Deserialize<List<PropertiesRow>>(File.ReadAllText(Path.Combine(page, "properties.json")))!;
        Assert.Equal(4, properties.Count);
        Assert.Equal(2, JsonSerializer.Deserialize<List<InverseProblemRow>>(File.ReadAllText(Path.Combine(page, "inverse.json")))!.Count);
        foreach (var grid in new[] { "samples-heldout.png", "samples-tiny-vae.png", "samples-tiny-gan.png", "samples-diffusion.png" })
            Assert.True(File.Exists(Path.Combine(page, grid)), grid);
        Assert.True(File.Exists(Path.Combine(cli.Folder, "docs", "samples-tiny-vae.png")));
    }
}
