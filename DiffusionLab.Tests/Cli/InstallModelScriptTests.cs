using DiffusionLab.Engine;
using System.Diagnostics;
using System.Security.Cryptography;

namespace DiffusionLab.Tests.Cli;

/// <summary>
/// tools/install-model.sh on a made-up export, installing into a temporary models folder (MODELS=…):
/// a pair whose weights match the card's SHA-256 goes in, a tampered one leaves the folder as it was.
/// </summary>
public sealed class InstallModelScriptTests : IDisposable
{
    const string Name = "pixel-faces-32";
    static readonly string Repository = ContentRoot.Find();
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-install-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Export(bool tampered)
    {
        var state = Path.Combine(folder, "export");
        Directory.CreateDirectory(state);
        File.Copy(Path.Combine(ContentRoot.Models(Repository), Name + ".json"), Path.Combine(state, Name + ".json"), overwrite: true);
        var weights = File.ReadAllBytes(Path.Combine(ContentRoot.Models(Repository), Name + ".safetensors"));
        if (tampered) weights[^10] ^= 0xFF;
        File.WriteAllBytes(Path.Combine(state, Name + ".safetensors"), weights);
        return state;
    }

    (int ExitCode, string Output) Install(string state, string models)
    {
        var info = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(Repository, "tools", "install-model.sh"), Name, state }) info.ArgumentList.Add(argument);
        info.Environment["MODELS"] = models;
        using var process = Process.Start(info)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    static Dictionary<string, string> Contents(string models) =>
        Directory.EnumerateFileSystemEntries(models).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void Weights_that_do_not_match_the_card_leave_the_models_folder_as_it_was()
    {
        var models = Path.Combine(folder, "models");
        Directory.CreateDirectory(models);
        File.WriteAllText(Path.Combine(models, Name + ".json"), "the card installed before");
        File.WriteAllText(Path.Combine(models, Name + ".safetensors"), "the weights installed before");
        var before = Contents(models);

        var (exitCode, output) = Install(Export(tampered: true), models);

        Assert.True(exitCode == 1, output);
        Assert.Contains("does not match its card", output);
        Assert.Contains("was left as it was", output);
        Assert.Equal(before, Contents(models));
    }

    [Fact]
    public void Weights_that_match_the_card_are_installed_with_it()
    {
        var models = Path.Combine(folder, "models");
        var state = Export(tampered: false);

        var (exitCode, output) = Install(state, models);

        Assert.True(exitCode == 0, output);
        Assert.Contains($"{Name}: step", output);
        Assert.Equal(Contents(state), Contents(models));
    }
}
