using DiffusionLab.Engine;
using DiffusionLab.Engine.Runs;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Cli;

/// <summary>The console tool run as a process from a temporary folder: help, refusals, and the verbs finding the bundled models.</summary>
public sealed class CliProcessTests : IDisposable
{
    static readonly string[] AllVerbs = ["solve", "sample", "grid", "train", "train-vae", "train-gan", "generators", "generator-history", "import", "prepare-data", "bench", "bench-batching", "gmm-benchmark", "evaluate"];

    /// <summary>The repository's models/, which the tool must find from a folder outside it.</summary>
    static readonly string BundledModels = ContentRoot.Models(ContentRoot.Find());

    readonly CliProcess cli = new();

    public void Dispose() => cli.Dispose();

    static void NoStackTrace(CliProcess.Result result) =>
        Assert.False(result.Output.Contains("   at ", StringComparison.Ordinal) || result.Output.Contains("Unhandled exception", StringComparison.Ordinal), result.ToString());

    public static TheoryData<string[]> HelpSpellings => new() { new[] { "--help" }, new[] { "-h" }, new[] { "help" }, Array.Empty<string>() };

    [Theory]
    [MemberData(nameof(HelpSpellings))]
    public void The_tool_s_help_lists_every_verb_and_exits_0(string[] arguments)
    {
        var result = cli.Run(arguments);
        Assert.True(result.ExitCode == 0, result.ToString());
        NoStackTrace(result);
        var commands = result.Stdout[result.Stdout.IndexOf("COMMANDS:", StringComparison.Ordinal)..];
        foreach (var verb in AllVerbs)
            Assert.Matches($@"(?m)^\s+{Regex.Escape(verb)}\s+\S", commands);
        Assert.Contains("--models DIR", result.Flat);
    }

    public static TheoryData<string> Verbs => new(AllVerbs);

    [Theory]
    [MemberData(nameof(Verbs))]
    public void Every_verb_has_help_that_exits_0(string verb)
    {
        var result = cli.Run(verb, "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        NoStackTrace(result);
        Assert.Contains($"DiffusionLab.Cli {verb} [OPTIONS]", result.Flat);
        Assert.Contains("OPTIONS:", result.Stdout);
        // `help VERB` is the same page.
        Assert.Equal(result.Stdout, cli.Run("help", verb).Stdout);
    }

    [Theory]
    [InlineData("solve", "--out <DIR>", "solve-output")]
    [InlineData("solve", "--print-every <N>", "25")]
    [InlineData("sample", "--model <NAME>", "pixel-faces-32")]
    [InlineData("sample", "--steps <N>", "50")]
    [InlineData("train", "--steps <N>", "20000")]
    [InlineData("train", "--checkpoint-minutes <MIN>", "5")]
    [InlineData("train-vae", "--steps <N>", "12000")]
    [InlineData("train-gan", "--objective <NAME>", "stable")]
    [InlineData("train-gan", "--checkpoint-every <STEPS>", "200")]
    [InlineData("generators", "--samples <N>", "256")]
    [InlineData("generators", "--sampler-steps <N>", "50")]
    [InlineData("bench", "--repeats <N>", "20")]
    [InlineData("bench", "--batch <LIST>", "1,8")]
    [InlineData("bench-batching", "--concurrency <N>", "8")]
    [InlineData("gmm-benchmark", "--dy <LIST>", "1,2,4")]
    [InlineData("prepare-data", "--heldout <N>", "256")]
    public void A_verb_s_help_shows_each_option_with_its_default(string verb, string option, string defaultValue)
    {
        var result = cli.Run(verb, "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        var line = result.Stdout.Split('\n').SingleOrDefault(l => l.Contains(option, StringComparison.Ordinal));
        Assert.True(line is not null, $"{verb} --help does not list {option}:\n{result.Stdout}");
        Assert.Matches($@"{Regex.Escape(option)}\s+{Regex.Escape(defaultValue)}\s", line);
    }

    [Theory]
    [InlineData(new[] { "frobnicate" }, "unknown verb 'frobnicate'", "DiffusionLab.Cli --help")]
    [InlineData(new[] { "slove" }, "unknown verb 'slove'; did you mean solve?", "DiffusionLab.Cli --help")]
    [InlineData(new[] { "solve", "--frobnicate", "3" }, "unknown option '--frobnicate'", "DiffusionLab.Cli solve --help")]
    [InlineData(new[] { "sample", "--stpes", "3" }, "unknown option '--stpes'; did you mean --steps?", "DiffusionLab.Cli sample --help")]
    [InlineData(new[] { "sample", "--steps", "abc" }, "--steps takes a whole number, not 'abc'", "DiffusionLab.Cli sample --help")]
    [InlineData(new[] { "train", "--lr=fast" }, "--lr takes a number, not 'fast'", "DiffusionLab.Cli train --help")]
    [InlineData(new[] { "train-gan", "--objective", "wasserstein", "--data", "d", "--out", "o", "--model-name", "m" }, "--objective must be plain or stable, not 'wasserstein'", "DiffusionLab.Cli train-gan --help")]
    [InlineData(new[] { "train-vae", "--data", "d", "--out", "o" }, "train-vae needs --data DIR, --out DIR and --model-name NAME", "DiffusionLab.Cli train-vae --help")]
    [InlineData(new[] { "generators", "--data", "no-such-data" }, "--data no-such-data needs train/ and heldout/ folders", "DiffusionLab.Cli generators --help")]
    [InlineData(new[] { "solve", "--spec" }, "--spec needs a value", "DiffusionLab.Cli solve --help")]
    [InlineData(new[] { "solve", "extra" }, "solve takes no argument 'extra'", "DiffusionLab.Cli solve --help")]
    [InlineData(new[] { "bench", "--batch", "1,x" }, "--batch takes a comma-separated list of whole numbers, not '1,x'", "DiffusionLab.Cli bench --help")]
    [InlineData(new[] { "solve", "--models", "no-such-folder" }, "--models no-such-folder: no such folder", "DiffusionLab.Cli solve --help")]
    public void A_mistake_is_refused_in_one_line_with_a_hint_and_no_stack_trace(string[] arguments, string message, string hint)
    {
        var result = cli.Run(arguments);
        Assert.True(result.ExitCode == 2, result.ToString());
        NoStackTrace(result);
        var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, result.ToString());
        Assert.Contains(message, lines[0]);
        Assert.Contains(hint, lines[0]);
    }

    [Fact]
    public void Solve_run_outside_the_repository_uses_the_bundled_models_and_writes_its_pngs()
    {
        var result = cli.Run("solve", "--spec", "op=box-inpainting&solver=dps&steps=3", "--out", "out", "--print-every", "1");
        Solved(result, $"models: {BundledModels}", steps: 3, "out");
        Assert.Contains("step 3/3", result.Flat);
    }

    [Fact]
    public void Solve_reads_the_models_of_any_folder_named_with_models()
    {
        var own = Path.Combine(cli.Folder, "my-checkpoints");
        Directory.CreateDirectory(own);
        foreach (var file in new[] { ".json", ".safetensors" })
            File.Copy(Path.Combine(BundledModels, ExperimentSpec.DefaultPrior + file), Path.Combine(own, ExperimentSpec.DefaultPrior + file));
        var result = cli.Run("solve", "--models", "my-checkpoints", "--spec", "solver=ddim&op=denoise&steps=2");
        Solved(result, $"models: {own} (given with --models)", steps: 2, "solve-output");
    }

    /// <summary>
    /// A solve that ran on the bundled default prior (not the weight-free mixture the lab falls back to without
    /// models) and its first gallery image (the gallery is found even when the models come from elsewhere).
    /// </summary>
    void Solved(CliProcess.Result result, string modelsLine, int steps, string outFolder)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains(modelsLine, result.Flat);
        Assert.Matches($@"prior {Regex.Escape(ExperimentSpec.DefaultPrior)}, image gallery:\S+, {steps} steps", result.Flat);
        foreach (var png in new[] { "ground-truth.png", "measurement.png", "result.png" })
        {
            var path = Path.Combine(cli.Folder, outFolder, png);
            Assert.True(File.Exists(path), $"{png} was not written:\n{result}");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(path)[..4]);
        }
    }

    [Fact]
    public void Sample_still_takes_the_old_spelling_of_its_count()
    {
        // Spectre takes one-letter options as short ones only; --n is what the README and scripts write.
        var result = cli.Run("sample", "--n", "2", "--steps", "2", "--out", "two.png");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"models: {BundledModels}", result.Flat);
        Assert.Contains($"wrote 2 ddim samples (2 steps) from {ExperimentSpec.DefaultPrior}", result.Flat);
        Assert.True(File.Exists(Path.Combine(cli.Folder, "two.png")), result.ToString());
    }

    [Fact]
    public void Bench_quick_run_outside_the_repository_measures_a_bundled_model_and_writes_markdown()
    {
        var result = cli.Run("bench", "--quick", "--model", ExperimentSpec.DefaultPrior, "--markdown", "figures/bench.md");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains($"models: {BundledModels}", result.Flat);
        Assert.Contains($"{ExperimentSpec.DefaultPrior}, batch 1", result.Flat);
        Assert.DoesNotContain("untrained", result.Output);
        var markdown = File.ReadAllText(Path.Combine(cli.Folder, "figures", "bench.md"));
        Assert.Contains($"| | {ExperimentSpec.DefaultPrior}, batch 1 |", markdown);
        Assert.Matches(@"\| network forward, ms \| \d+\.\d+ \|", markdown);
        Assert.Matches(@"\| heaviest conv alone, GFLOP/s \| \d+\.\d+ \|", markdown);
        // The bundled VAE and GAN are found beside the prior, so the CSGM yardstick is measured.
        Assert.Matches(@"\| CSGM iteration ÷ DPS step \(target ≤ 2\) \| \d+\.\d+ \|", markdown);
        Assert.Contains("Theoretical peak of one core", markdown);
    }
}
