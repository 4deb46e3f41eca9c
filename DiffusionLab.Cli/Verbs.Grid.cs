using DiffusionLab.Engine.Imaging;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_Grid() => Register("grid",
        "tile images of a folder into one PNG, laid out like `sample`'s grids (for showing training images beside samples): --folder DIR --out FILE.png [--n 64 --size 32 --scale 2]",
        GridAsync);

    static Task<int> GridAsync(string[] args)
    {
        var o = new CliOptions(args);
        var folder = o.String("folder", "");
        var output = o.String("out", "");
        if (folder == "" || output == "") throw new CliUsageException("grid needs --folder DIR and --out FILE.png");
        int n = o.Int("n", 64), size = o.Int("size", 32), scale = o.Int("scale", 2);
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
        return Task.FromResult(0);
    }
}
