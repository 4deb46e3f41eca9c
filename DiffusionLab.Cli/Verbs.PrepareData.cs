using DiffusionLab.Engine.Imaging;
using SkiaSharp;
using Spectre.Console;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_PrepareData() => Register("prepare-data",
        "rasterise a folder of SVG/PNG images to square PNGs with train/ and heldout/ splits (--source --out --size 32 --heldout 256 --seed 0)",
        PrepareDataAsync);

    static Task<int> PrepareDataAsync(string[] args)
    {
        var options = new CliOptions(args);
        var source = options.String("source", "");
        var output = options.String("out", "");
        int size = options.Int("size", 32), heldout = options.Int("heldout", 256), seed = options.Int("seed", 0);
        if (source == "" || output == "") throw new CliUsageException("prepare-data needs --source FOLDER and --out FOLDER");
        if (!Directory.Exists(source)) throw new CliUsageException($"--source {source}: no such folder");

        var files = Directory.EnumerateFiles(source)
            .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".svg" or ".png" or ".jpg" or ".jpeg" or ".webp")
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count <= heldout) throw new CliUsageException($"{source} holds {files.Count} images, not enough for {heldout} held out");

        // A seeded shuffle, so the held-out split is the same on every machine.
        var random = new Random(seed);
        var order = files.OrderBy(_ => random.Next()).ToList();
        var trainFolder = Path.Combine(output, "train");
        var heldoutFolder = Path.Combine(output, "heldout");
        Directory.CreateDirectory(trainFolder);
        Directory.CreateDirectory(heldoutFolder);
        int written = 0, skipped = 0;
        for (int i = 0; i < order.Count; i++)
        {
            var file = order[i];
            var folder = i < heldout ? heldoutFolder : trainFolder;
            var target = Path.Combine(folder, Path.GetFileNameWithoutExtension(file) + ".png");
            try
            {
                using var scope = NewDisposeScope();
                var image = Path.GetExtension(file).Equals(".svg", StringComparison.OrdinalIgnoreCase)
                    ? RasteriseSvg(file, size)
                    : ImageCodec.Decode(file, size);
                ImageCodec.WriteFile(target, image);
                written++;
            }
            catch (ImageDecodeException e)
            {
                AnsiConsole.MarkupLineInterpolated($"[yellow]skipped {file}: {e.Message}[/]");
                skipped++;
            }
            if ((i + 1) % 1000 == 0) Console.WriteLine($"{i + 1} / {order.Count}");
        }
        Console.WriteLine($"wrote {written} images ({Math.Min(heldout, written)} held out) to {output}; skipped {skipped}");
        return Task.FromResult(skipped == 0 ? 0 : 1);
    }

    /// <summary>Draws an SVG on white at size × size (the viewBox scaled to fit).</summary>
    static Tensor RasteriseSvg(string path, int size)
    {
        using var svg = new Svg.Skia.SKSvg();
        var picture = svg.Load(path) ?? throw new ImageDecodeException("not a readable SVG");
        var bounds = picture.CullRect;
        if (bounds.Width <= 0 || bounds.Height <= 0) throw new ImageDecodeException("the SVG has no size");
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        canvas.Scale(size / bounds.Width, size / bounds.Height);
        canvas.Translate(-bounds.Left, -bounds.Top);
        canvas.DrawPicture(picture);
        canvas.Flush();
        return ImageCodec.FromBitmap(bitmap);
    }
}
