namespace DiffusionLab.Tests.Cli;

/// <summary>
/// The console tool as a user runs it: a device that is not here stops a verb with one line naming --device (or
/// DIFFUSIONLAB_DEVICE), and import brings a guided-diffusion checkpoint and a diffusers folder into a models folder.
/// </summary>
public sealed class DeviceAndImportVerbTests : IDisposable
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    readonly CliProcess cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public void Asking_for_cuda_where_there_is_none_exits_non_zero_with_one_line_naming_the_setting()
    {
        if (TorchSharp.torch.cuda.is_available()) return; // the CUDA build on a GPU machine: cuda is there to be had
        var result = cli.Run("sample", "--device", "cuda", "-n", "1", "--out", "never.png");
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("--device is \"cuda\", but libtorch sees no CUDA device here", line);
        Assert.False(File.Exists(Path.Combine(cli.Folder, "never.png")));

        var bad = cli.Run("bench", "--device", "tpu", "--quick");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--device is \"tpu\": a device is auto, cpu, cuda or cuda:N", bad.Stderr);
    }

    [Fact]
    public void Bench_times_an_untrained_adm_network_from_its_flags_and_projects_the_dps_run()
    {
        var result = cli.Run("bench", "--flags", Path.Combine(Fixtures, "guided-diffusion", "adm-tiny.yaml"), "--quick", "--json");
        Assert.True(result.ExitCode == 0, result.ToString());
        using var json = System.Text.Json.JsonDocument.Parse(result.Stdout);
        var row = json.RootElement;
        Assert.Equal(354_822, row.GetProperty("parameters").GetInt64());
        double step = row.GetProperty("dpsStepSeconds").GetDouble();
        Assert.True(step > 0);
        Assert.Equal(1000 * step, row.GetProperty("projectedDps1000Seconds").GetDouble(), 6);
        // bench counted 0.03 GFLOP for this 8×8 network when it was written; a hook that missed layers would fall below the range.
        Assert.InRange(row.GetProperty("forwardGflops").GetDouble(), 0.02, 0.05);
    }

    [Fact]
    public void Import_brings_both_formats_into_the_models_folder_checked_against_their_probes()
    {
        var adm = Path.Combine(Fixtures, "guided-diffusion");
        var models = Path.Combine(cli.Folder, "models");
        var gd = cli.Run("import", "--format", "guided-diffusion", "--weights", Path.Combine(adm, "adm-tiny.pt"), "--flags", Path.Combine(adm, "adm-tiny.yaml"),
            "--probe", Path.Combine(adm, "adm-tiny.probe.safetensors"), "--name", "adm-tiny", "--out", models, "--licence", "random weights");
        Assert.True(gd.ExitCode == 0, gd.ToString());
        Assert.Contains("adm-tiny: adm-unet, 8×8×3", gd.Stdout);
        Assert.Matches(@"probe: largest \|ε difference\| [0-9.E+-]+, mean \|ε\|", gd.Stdout);
        Assert.Contains("licence: random weights", gd.Stdout);

        var folder = Path.Combine(Fixtures, "diffusers", "ddpm-tiny");
        var hf = cli.Run("import", "--format", "diffusers", "--from", folder, "--probe", Path.Combine(Fixtures, "diffusers", "ddpm-tiny.probe.safetensors"),
            "--name", "ddpm-tiny", "--out", models);
        Assert.True(hf.ExitCode == 0, hf.ToString());
        Assert.Contains("licence: apache-2.0 (from the model card's front matter)", hf.Stdout);
        Assert.True(File.Exists(Path.Combine(models, "adm-tiny.json")) && File.Exists(Path.Combine(models, "ddpm-tiny.safetensors")));

        // A mismatch is one line naming the file, and nothing is written.
        var wrong = cli.Run("import", "--format", "guided-diffusion", "--weights", Path.Combine(adm, "adm-tiny-plain.pt"), "--flags", Path.Combine(adm, "adm-tiny.yaml"),
            "--name", "mixed-up", "--out", models);
        Assert.Equal(2, wrong.ExitCode);
        Assert.StartsWith($"{Path.Combine(adm, "adm-tiny-plain.pt")}: the weights do not fit the network the flags describe", wrong.Stderr.Trim());
        Assert.False(File.Exists(Path.Combine(models, "mixed-up.json")));

        var missing = cli.Run("import", "--format", "guided-diffusion", "--name", "x");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("import --format guided-diffusion needs --weights FILE.pt and --flags FILE", missing.Stderr);
    }
}
