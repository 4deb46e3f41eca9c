using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Training;

/// <summary>
/// Checkpoints in guided-diffusion's and diffusers' layouts import name by name and compute the function their
/// authors' code computes. The fixtures (Fixtures/guided-diffusion, Fixtures/diffusers) were written by the
/// project's own PyTorch reference code (tools/fixtures) with every weight random, together with PyTorch's ε on a
/// probe, so these tests need no download and no Python.
/// </summary>
public sealed class ForeignCheckpointTests : IDisposable
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    static string Adm(string file) => Path.Combine(Fixtures, "guided-diffusion", file);
    static string Diffusers(string file) => Path.Combine(Fixtures, "diffusers", file);

    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-foreign-").FullName;
    string Output => Path.Combine(folder, "models");

    public void Dispose() => Directory.Delete(folder, recursive: true);

    ForeignImportResult ImportAdm(string name, string? flags = null, string? probe = null) =>
        ForeignCheckpoints.ImportGuidedDiffusion(Adm(name + ".pt"), flags ?? Adm(name + ".yaml"), name, Output, probe ?? Adm(name + ".probe.safetensors"));

    [Theory]
    [InlineData("adm-tiny")]        // scale-shift norm, resblock up/down, learned σ, heads from num_head_channels, legacy order, float16 weights
    [InlineData("adm-tiny-plain")]  // additive embedding, conv up/down, 3 output channels, num_heads / num_heads_upsample, new order, float32
    public void An_adm_checkpoint_imports_with_the_epsilon_its_authors_code_computes(string name)
    {
        var result = ImportAdm(name);

        Assert.NotNull(result.MaxDifference);
        Assert.True(result.MeanEpsilon > 0.1, "the probe's ε should be far from zero, or the comparison proves nothing");
        Assert.True(result.MaxDifference <= 1e-4 * result.MeanEpsilon, $"max |Δε| = {result.MaxDifference}, mean |ε| = {result.MeanEpsilon}");
        var card = result.Card;
        Assert.Equal(ImportedModelCard.AdmArchitecture, card.Architecture);
        Assert.Equal(8, card.ImageSize);
        Assert.Equal("linear", card.ScheduleKind);
        Assert.Equal(1000, card.ScheduleSteps);
        Assert.Equal(name == "adm-tiny", card.Adm!.LearnSigma);

        // The card and float32 weights it wrote load through the catalog (hash checked) and still compute the probe's ε.
        var entry = Assert.Single(new ModelCatalog(Output).List());
        Assert.Null(entry.Problem);
        Assert.NotNull(entry.Imported);
        var prior = new ModelCatalog(Output).LoadPrior(name);
        var (difference, scale) = ForeignCheckpoints.CompareProbe(prior, Adm(name + ".probe.safetensors"));
        Assert.True(difference <= 1e-4 * scale, $"max |Δε| after the round trip = {difference}");
        ((IDisposable)prior).Dispose();
    }

    [Fact]
    public void Flags_given_as_json_mean_the_same_as_yaml()
    {
        var json = Path.Combine(folder, "flags.json");
        File.WriteAllText(json, """
            { "image_size": 8, "num_channels": 32, "num_res_blocks": 1, "channel_mult": "1,1", "learn_sigma": true, "class_cond": false,
              "attention_resolutions": [4], "num_heads": 4, "num_head_channels": 16, "num_heads_upsample": -1, "use_scale_shift_norm": true,
              "dropout": 0.0, "resblock_updown": true, "use_fp16": true, "use_new_attention_order": false, "model_path": "models/adm-tiny.pt" }
            """);
        var result = ImportAdm("adm-tiny", flags: json);
        Assert.True(result.MaxDifference <= 1e-4 * result.MeanEpsilon);
        Assert.Equal(ForeignCheckpoints.ReadAdmFlags(Adm("adm-tiny.yaml")).Config.ToString(), result.Card.Adm!.ToString());
    }

    [Fact]
    public void Dps_ffhq_flags_read_as_the_authors_network()
    {
        var yaml = Path.Combine(folder, "model_config.yaml");
        File.WriteAllText(yaml, """
            # Defaults for image training.

            image_size: 256
            num_channels: 128
            num_res_blocks: 1
            channel_mult: ""
            learn_sigma: True
            class_cond: False
            use_checkpoint: False
            attention_resolutions: 16
            num_heads: 4
            num_head_channels: 64
            num_heads_upsample: -1
            use_scale_shift_norm: True
            dropout: 0.0
            resblock_updown: True
            use_fp16: False
            use_new_attention_order: False

            model_path: models/ffhq_10m.pt
            """);
        var (config, kind, steps) = ForeignCheckpoints.ReadAdmFlags(yaml);
        Assert.Equal(AdmUNetConfig.Ffhq256.ToString(), config.ToString());
        Assert.Equal([1.0, 1, 2, 2, 4, 4], config.Multipliers);
        Assert.Equal([16], config.AttentionFactors);
        Assert.Equal(("linear", 1000), (kind, steps));
        using var network = new AdmUNet(config, ImportedModelCard.MakeSchedule(kind, steps));
        // ffhq_10m.pt holds about 93.6 M parameters (learned σ: 6 output channels).
        Assert.InRange(network.ParameterCount, 93_000_000, 94_500_000);
    }

    [Theory]
    [InlineData("class_cond: True", "class_cond is true")]
    [InlineData("num_chanels: 64", "unknown flag num_chanels")]
    [InlineData("num_channels: 48", "multiple of 32")]
    [InlineData("learn_sigma: perhaps", "flag learn_sigma is \"perhaps\", not true or false")]
    [InlineData("  nested: 1", "line 18: \"nested: 1\" is not a flat")]
    public void Flags_that_do_not_describe_a_network_built_here_are_refused_in_words(string line, string expected)
    {
        var flags = Path.Combine(folder, "bad.yaml");
        var text = File.ReadAllText(Adm("adm-tiny.yaml"));
        var key = line.Trim().Split(':')[0];
        text = string.Join('\n', text.Split('\n').Where(l => !l.StartsWith(key + ":", StringComparison.Ordinal))) + line + "\n";
        File.WriteAllText(flags, text);
        var refused = Assert.Throws<CheckpointException>(() => ImportAdm("adm-tiny", flags: flags));
        Assert.StartsWith(flags, refused.Message);
        Assert.True(refused.Message.Contains(expected, StringComparison.Ordinal), refused.Message);
    }

    [Fact]
    public void Flags_that_give_the_network_other_shapes_are_refused_naming_the_file_and_the_tensor()
    {
        // The same weights read as a network without learned σ: its last convolution has 3 output channels, not 6.
        var flags = Path.Combine(folder, "no-sigma.yaml");
        File.WriteAllText(flags, File.ReadAllText(Adm("adm-tiny.yaml")).Replace("learn_sigma: True", "learn_sigma: False"));
        var refused = Assert.Throws<CheckpointException>(() => ImportAdm("adm-tiny", flags: flags));
        Assert.StartsWith(Adm("adm-tiny.pt"), refused.Message);
        Assert.Contains("'out.2.weight' is [6, 32, 3, 3] in the file but [3, 32, 3, 3] here", refused.Message);
        Assert.False(Directory.Exists(Output) && Directory.EnumerateFiles(Output).Any(), "nothing is written for a refused import");
    }

    [Fact]
    public void Flags_with_other_blocks_are_refused_naming_the_missing_and_unexpected_tensors()
    {
        // Plain strided-convolution downsampling where the file has residual down-blocks.
        var flags = Path.Combine(folder, "plain-resample.yaml");
        File.WriteAllText(flags, File.ReadAllText(Adm("adm-tiny.yaml")).Replace("resblock_updown: True", "resblock_updown: False"));
        var refused = Assert.Throws<CheckpointException>(() => ImportAdm("adm-tiny", flags: flags));
        Assert.Contains("missing (e.g. input_blocks.2.0.op.weight", refused.Message);
        Assert.Contains("unexpected (e.g. input_blocks.2.0.emb_layers.1.bias", refused.Message);
    }

    [Fact]
    public void A_damaged_pickle_is_refused_naming_the_file()
    {
        var damaged = Path.Combine(folder, "adm-tiny.pt");
        var bytes = File.ReadAllBytes(Adm("adm-tiny.pt"));
        File.WriteAllBytes(damaged, bytes[..(bytes.Length / 2)]);
        var refused = Assert.Throws<CheckpointException>(() =>
            ForeignCheckpoints.ImportGuidedDiffusion(damaged, Adm("adm-tiny.yaml"), "adm-tiny", Output, null));
        Assert.StartsWith(damaged, refused.Message);
        Assert.Contains("not a PyTorch state dict that can be read", refused.Message);
    }

    [Fact]
    public void A_probe_of_another_function_is_refused_with_the_largest_difference()
    {
        // adm-tiny-plain's probe has the same shapes as adm-tiny's, but another network made it.
        var refused = Assert.Throws<CheckpointException>(() => ImportAdm("adm-tiny", probe: Adm("adm-tiny-plain.probe.safetensors")));
        Assert.StartsWith(Adm("adm-tiny-plain.probe.safetensors"), refused.Message);
        Assert.Matches(@"differs from the probe's by up to \d", refused.Message);
    }

    // ---- diffusers ----

    [Theory]
    [InlineData("ddpm-tiny", "epsilon")]    // google/ddpm-style: padding-0 downsampling, one head, pre-rename attention names, a .bin pickle
    [InlineData("vpred-tiny", "v_prediction")] // v-prediction, scaled-linear β, grey, two heads, scale-shift norm, mid-block scale, safetensors
    public void A_diffusers_folder_imports_with_the_epsilon_its_authors_code_computes(string name, string prediction)
    {
        var result = ForeignCheckpoints.ImportDiffusers(Diffusers(name), name, Output, Diffusers(name + ".probe.safetensors"));

        Assert.True(result.MeanEpsilon > 0.1, $"mean |ε| = {result.MeanEpsilon}");
        Assert.True(result.MaxDifference <= 1e-4 * result.MeanEpsilon, $"max |Δε| = {result.MaxDifference}, mean |ε| = {result.MeanEpsilon}");
        var card = result.Card;
        Assert.Equal(ImportedModelCard.DiffusersArchitecture, card.Architecture);
        Assert.Equal(prediction, card.Prediction);
        if (name == "ddpm-tiny") Assert.Equal("apache-2.0 (from the model card's front matter)", card.Licence);
        else Assert.StartsWith("not stated", card.Licence);

        var prior = new ModelCatalog(Output).LoadPrior(name);
        var (difference, scale) = ForeignCheckpoints.CompareProbe(prior, Diffusers(name + ".probe.safetensors"));
        Assert.True(difference <= 1e-4 * scale, $"max |Δε| after the round trip = {difference}");
        ((IDisposable)prior).Dispose();
    }

    [Fact]
    public void A_v_prediction_network_read_as_epsilon_fails_its_probe()
    {
        // The same weights and shapes: only the meaning of the output differs, and the probe tells.
        var copy = CopyDiffusers("vpred-tiny");
        var scheduler = Path.Combine(copy, "scheduler_config.json");
        File.WriteAllText(scheduler, File.ReadAllText(scheduler).Replace("v_prediction", "epsilon"));
        var refused = Assert.Throws<CheckpointException>(() =>
            ForeignCheckpoints.ImportDiffusers(copy, "vpred-tiny", Output, Diffusers("vpred-tiny.probe.safetensors")));
        Assert.Contains("differs from the probe's", refused.Message);
    }

    [Fact]
    public void A_missing_tensor_is_refused_naming_the_file_and_the_tensor()
    {
        var copy = CopyDiffusers("vpred-tiny");
        var weights = Path.Combine(copy, "diffusion_pytorch_model.safetensors");
        Rewrite(weights, state => state.Remove("mid_block.attentions.0.to_k.bias"));
        var refused = Assert.Throws<CheckpointException>(() => ForeignCheckpoints.ImportDiffusers(copy, "vpred-tiny", Output, null));
        Assert.StartsWith(weights, refused.Message);
        Assert.Contains("1 tensor missing (e.g. mid_block.attentions.0.to_k.bias)", refused.Message);
    }

    [Fact]
    public void A_tensor_of_another_shape_is_refused_naming_the_file_and_both_shapes()
    {
        var copy = CopyDiffusers("vpred-tiny");
        var weights = Path.Combine(copy, "diffusion_pytorch_model.safetensors");
        Rewrite(weights, state => state["conv_in.weight"] = zeros(8, 3, 3, 3));
        var refused = Assert.Throws<CheckpointException>(() => ForeignCheckpoints.ImportDiffusers(copy, "vpred-tiny", Output, null));
        Assert.StartsWith(weights, refused.Message);
        Assert.Contains("'conv_in.weight' is [8, 3, 3, 3] in the file but [8, 1, 3, 3] here", refused.Message);
    }

    [Fact]
    public void A_truncated_safetensors_file_is_refused_naming_the_file()
    {
        var copy = CopyDiffusers("vpred-tiny");
        var weights = Path.Combine(copy, "diffusion_pytorch_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length - 1000)]);
        var refused = Assert.Throws<CheckpointException>(() => ForeignCheckpoints.ImportDiffusers(copy, "vpred-tiny", Output, null));
        Assert.StartsWith(weights, refused.Message);
        Assert.Contains("truncated", refused.Message);
    }

    [Theory]
    [InlineData("config.json", "\"UNet2DModel\"", "\"UNet2DConditionModel\"", "only UNet2DModel")]
    [InlineData("config.json", "\"AttnDownBlock2D\"", "\"CrossAttnDownBlock2D\"", "down block CrossAttnDownBlock2D is not built here")]
    [InlineData("scheduler_config.json", "\"v_prediction\"", "\"x0\"", "prediction_type x0 is not")]
    [InlineData("scheduler_config.json", "\"scaled_linear\"", "\"sigmoid\"", "beta schedule sigmoid is not read here")]
    public void A_configuration_this_engine_does_not_build_is_refused_in_words(string file, string from, string to, string expected)
    {
        var copy = CopyDiffusers("vpred-tiny");
        var path = Path.Combine(copy, file);
        File.WriteAllText(path, File.ReadAllText(path).Replace(from, to));
        var refused = Assert.Throws<CheckpointException>(() => ForeignCheckpoints.ImportDiffusers(copy, "vpred-tiny", Output, null));
        Assert.StartsWith(path, refused.Message);
        Assert.Contains(expected, refused.Message);
    }

    string CopyDiffusers(string name)
    {
        var copy = Path.Combine(folder, "copy-" + name);
        Directory.CreateDirectory(copy);
        foreach (var file in Directory.GetFiles(Diffusers(name))) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        return copy;
    }

    static void Rewrite(string safetensors, Action<Dictionary<string, Tensor>> change)
    {
        using var scope = NewDisposeScope();
        var state = TorchSharp.PyBridge.Safetensors.LoadStateDict(safetensors);
        change(state);
        TorchSharp.PyBridge.Safetensors.SaveStateDict(safetensors, state);
    }
}
