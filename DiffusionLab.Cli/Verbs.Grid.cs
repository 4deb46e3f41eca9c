using DiffusionLab.Engine.Imaging;
using Spectre.Console.Cli;
using System.ComponentModel;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class GridVerb : Command<GridVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--folder <DIR>")]
        [Help("the folder of PNG images (required)")]
        public string? Folder { get; set; }

        [CommandOption("--out <FILE>")]
        [Help("the PNG to write (required)")]
        public string? Out { get; set; }

        [CommandOption("-n|--count <N>")]
        [Help("how many images (1 to 1024), spread evenly over the sorted names; --n N works too")]
        [DefaultValue(64)]
        public int N { get; set; } = 64;

        [CommandOption("--size <PIXELS>")]
        [Help("each image is scaled to this square size (4 to 256)")]
        [DefaultValue(32)]
        public int Size { get; set; } = 32;

        [CommandOption("--scale <N>")]
        [Help("pixels per image pixel in the grid")]
        [DefaultValue(2)]
        public int Scale { get; set; } = 2;
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.Folder is not { } folder || o.Out is not { } output) throw new CliUsageException("grid needs --folder DIR and --out FILE.png");
        int n = o.N, size = o.Size, scale = o.Scale;
        if (n is < 1 or > 1024) throw new CliUsageException("--n must be between 1 and 1024");
        if (size is < 4 or > 256) throw new CliUsageException("--size must be between 4 and 256");
        if (!Directory.Exists(folder)) throw new CliUsageException($"{folder}: no such folder");
        var files = Directory.EnumerateFiles(folder, "*.png").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new CliUsageException($"{folder}: holds no PNG images");
        // Spread evenly over the sorted names, so neighbouring near-duplicates (skin tones, seeds) do not fill the grid.
        var chosen = Enumerable.Range(0, Math.Min(n, files.Count)).Select(i => files[(int)((long)i * files.Count / Math.Min(n, files.Count))]).ToList();
        using var scope = NewDisposeScope();
        var images = stack(chosen.Select(f => ImageCodec.Decode(f, size)).ToArray());
        ImageCodec.WriteFile(output, images, columns: (int)Math.Ceiling(Math.Sqrt(chosen.Count)), scale: scale);
        Console.WriteLine($"wrote {chosen.Count} images of {folder} to {output}");
        return 0;
    }
}
