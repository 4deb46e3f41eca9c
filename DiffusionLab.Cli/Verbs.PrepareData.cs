using DiffusionLab.Engine.Imaging;
using SkiaSharp;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class PrepareDataVerb : Command<PrepareDataVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--source <DIR>")]
        [Help("the folder of SVG, PNG, JPEG or WebP images (required)")]
        public string? Source { get; set; }

        [CommandOption("--out <DIR>")]
        [Help("where train/ and heldout/ are written (required)")]
        public string? Out { get; set; }

        [CommandOption("--size <PIXELS>")]
        [Help("side of the square PNGs")]
        [DefaultValue(32)]
        public int Size { get; set; } = 32;

        [CommandOption("--heldout <N>")]
        [Help("how many images go to heldout/")]
        [DefaultValue(256)]
        public int Heldout { get; set; } = 256;

        [CommandOption("--seed <N>")]
        [Help("seed of the shuffle that picks the held-out images")]
        [DefaultValue(0)]
        public int Seed { get; set; }
    }

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        if (options.Source is not { } source || options.Out is not { } output) throw new CliUsageException("prepare-data needs --source FOLDER and --out FOLDER");
        int size = options.Size, heldout = options.Heldout, seed = options.Seed;
        if (size is < 4 or > 1024) throw new CliUsageException("--size must be between 4 and 1024");
        if (heldout < 0) throw new CliUsageException("--heldout must be at least 0");
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
        return skipped == 0 ? 0 : 1;
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
