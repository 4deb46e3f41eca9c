using DiffusionLab.Tests.Web;
using DiffusionLab.Web.Features.Toy;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests;

/// <summary>
/// The engine's folders form layers, and a folder may only use the layers below it: the maths
/// (schedules, images, operators, priors, solvers) never knows about catalogs, runs or the lab
/// that drives it, so each piece can be read and tested on its own.
/// </summary>
public partial class EngineLayeringTests
{
    /// <summary>Lower numbers are lower layers; a folder may use its own layer's namespace only if it is itself.</summary>
    static readonly Dictionary<string, int> Layers = new()
    {
        [""] = 0, // the engine's root: ContentRoot, TorchRuntime, ScalarArithmetic
        ["Diffusion"] = 1,
        ["Imaging"] = 1,
        ["Operators"] = 2,
        ["Priors"] = 3,
        ["Generators"] = 4, // VAE and GAN networks: their checkpoints reuse the priors', and the CSGM solvers use them
        ["Solvers"] = 5,
        ["Methods"] = 6,
        ["Runs"] = 7,
        ["Benchmarks"] = 8,
        ["Training"] = 8,
        ["Toy"] = 9,
    };

    [GeneratedRegex(@"DiffusionLab\.Engine\.(\w+)")]
    private static partial Regex EngineNamespace();

    [Fact]
    public void Engine_folders_use_only_the_layers_below_them()
    {
        var engine = Path.Combine(BrowserFixture.RepositoryRoot(), "DiffusionLab.Engine");
        var violations = new List<string>();
        var seen = 0;
        foreach (var file in Directory.EnumerateFiles(engine, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(engine, file);
            if (relative.StartsWith("bin", StringComparison.Ordinal) || relative.StartsWith("obj", StringComparison.Ordinal)) continue;
            var folder = relative.Contains(Path.DirectorySeparatorChar) ? relative[..relative.IndexOf(Path.DirectorySeparatorChar)] : "";
            Assert.True(Layers.ContainsKey(folder), $"{relative}: the folder '{folder}' has no layer; add it to {nameof(Layers)}.");
            seen++;
            var lineNumber = 0;
            foreach (var line in File.ReadLines(file))
            {
                lineNumber++;
                if (line.TrimStart().StartsWith("namespace ", StringComparison.Ordinal)) continue;
                foreach (Match match in EngineNamespace().Matches(line))
                {
                    var used = match.Groups[1].Value;
                    if (used == folder || !Layers.TryGetValue(used, out var usedLayer)) continue;
                    if (usedLayer >= Layers[folder])
                        violations.Add($"{relative}:{lineNumber} ({folder}, layer {Layers[folder]}) uses {used} (layer {usedLayer})");
                }
            }
        }
        Assert.True(seen > 50, $"Only {seen} engine files found under {engine}.");
        Assert.True(violations.Count == 0, "Upward imports:\n" + string.Join("\n", violations));
    }
}
