using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;

namespace DiffusionLab.Cli;

/// <summary>
/// Which models/ folder a verb reads, and the content root whose wwwroot-assets/gallery holds the
/// lab's images. A verb run from anywhere (a temp folder, a published copy) finds the same models as
/// one run from the repository root, instead of quietly finding none.
/// </summary>
/// <param name="Models">The models folder.</param>
/// <param name="Root">The folder whose wwwroot-assets/gallery is the image gallery.</param>
/// <param name="How">How it was found, for the log line; null when nothing was found.</param>
sealed record ModelsLocation(string Models, string Root, string? How)
{
    public const string SearchOrder =
        "Models are read from --models DIR if given, else from a models/ folder next to the program, else from the nearest folder " +
        "at or above the current one, then at or above the program's, that holds models/ or DiffusionLab.sln.";

    public bool Found => How is not null;

    public static ModelsLocation Resolve(string? option) => Resolve(option, Directory.GetCurrentDirectory(), AppContext.BaseDirectory);

    public static ModelsLocation Resolve(string? option, string workingDirectory, string programFolder)
    {
        var program = Path.TrimEndingDirectorySeparator(Path.GetFullPath(programFolder));
        var walked = Walk(workingDirectory, "at or above the current folder") ?? Walk(program, "at or above the program");
        if (option is not null)
        {
            var folder = Path.TrimEndingDirectorySeparator(Path.GetFullPath(option, workingDirectory));
            if (!Directory.Exists(folder)) throw new CliUsageException($"--models {option}: no such folder");
            // A models/ folder of a checkout or a published copy has the gallery beside it; any other folder borrows the one found as usual.
            var parent = Path.GetDirectoryName(folder);
            var root = parent is not null && Directory.Exists(ContentRoot.Gallery(parent)) ? parent : walked?.Root ?? workingDirectory;
            return new ModelsLocation(folder, root, "given with --models");
        }
        if (Directory.Exists(ContentRoot.Models(program))) return new ModelsLocation(ContentRoot.Models(program), program, "next to the program");
        return walked ?? new ModelsLocation(ContentRoot.Models(workingDirectory), workingDirectory, null);
    }

    /// <summary>The engine's own search (<see cref="ContentRoot.Find"/>), which answers the start folder itself when it finds nothing.</summary>
    static ModelsLocation? Walk(string start, string how)
    {
        var root = ContentRoot.Find(Path.GetFullPath(start));
        bool isRoot = Directory.Exists(ContentRoot.Models(root)) || File.Exists(Path.Combine(root, "DiffusionLab.sln"));
        return isRoot ? new ModelsLocation(ContentRoot.Models(root), root, how) : null;
    }

    /// <summary>The lab's priors from this location: its models, the gallery, and the exact Gaussian mixture.</summary>
    public PriorCatalog Priors() => PriorCatalog.ForContentRoot(Root, Models);

    public ModelCatalog Catalog() => new(Models);

    /// <summary>One grey line saying where the models come from, or a yellow one saying none were found and what to do.</summary>
    public void Report()
    {
        if (Found) AnsiConsole.MarkupLineInterpolated($"[grey]models: {Models} ({How})[/]");
        else AnsiConsole.MarkupLineInterpolated($"[yellow]no models/ folder found at or above {Directory.GetCurrentDirectory()} or the program; pass --models DIR[/]");
    }
}

/// <summary>The option of every verb that computes with a network: where it computes (see <see cref="ComputeDevice"/>).</summary>
class DeviceSettings : CommandSettings
{
    [CommandOption("--device <DEVICE>")]
    [Help("where the networks compute: auto (CUDA when libtorch sees it, else the CPU), cpu, cuda or cuda:N (default: DIFFUSIONLAB_DEVICE, else auto)")]
    public string? Device { get; set; }
}

/// <summary>Applies a verb's --device before it runs, so every network the verb makes is made there (or the verb stops, in one line).</summary>
sealed class DeviceInterceptor : ICommandInterceptor
{
    public void Intercept(CommandContext context, CommandSettings settings)
    {
        if (settings is DeviceSettings device) ComputeDevice.Use(device.Device, "--device");
    }
}

/// <summary>The option of every verb that reads models.</summary>
class ModelSettings : DeviceSettings
{
    [CommandOption("--models <DIR>")]
    [Help("the models folder (default: searched for as the tool's --help says)")]
    public string? Models { get; set; }

    public ModelsLocation Location() => ModelsLocation.Resolve(Models);
}
