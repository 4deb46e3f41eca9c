using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace DiffusionLab.Web.Services;

/// <summary>
/// Images people upload, decoded with Skia (uploads are untrusted: its decoders are fuzzed),
/// centre-cropped to a square and resized to the prior's size, then kept in this server's
/// memory under an id "upload:…". They never travel in a shared link.
/// </summary>
public sealed class UploadedImages(IOptions<LabOptions> options)
{
    const int MaxSidePixels = 8192;
    const int Kept = 200;
    readonly ConcurrentDictionary<string, byte[]> images = new();
    readonly ConcurrentQueue<string> order = new();

    public long MaxBytes => options.Value.MaxUploadBytes;

    public bool Contains(string id) => images.ContainsKey(id);

    /// <summary>The stored square PNG at the prior's size.</summary>
    public byte[]? Find(string id) => images.GetValueOrDefault(id);

    /// <summary>Decodes, crops and resizes an upload; returns its id, or a message saying why not.</summary>
    public (string? Id, string? Error) Add(byte[] bytes, int size)
    {
        if (bytes.Length == 0) return (null, "The file is empty.");
        if (bytes.Length > MaxBytes) return (null, $"The file is {bytes.Length / 1048576.0:0.0} MB; the lab accepts images up to {MaxBytes / 1048576.0:0.#} MB.");
        using var codec = SKCodec.Create(new MemoryStream(bytes));
        if (codec is null) return (null, "This file is not an image the lab can read (use PNG, JPEG, WebP, GIF or BMP).");
        if (codec.Info.Width > MaxSidePixels || codec.Info.Height > MaxSidePixels)
            return (null, $"The image is {codec.Info.Width}×{codec.Info.Height} pixels; the lab accepts up to {MaxSidePixels} pixels a side.");
        using var decoded = SKBitmap.Decode(codec);
        if (decoded is null) return (null, "The image could not be decoded; it may be damaged.");
        var png = CropAndResize(decoded, size);
        var id = LabForm.UploadPrefix + Guid.NewGuid().ToString("N")[..10];
        images[id] = png;
        order.Enqueue(id);
        while (order.Count > Kept && order.TryDequeue(out var oldest)) images.TryRemove(oldest, out _);
        return (id, null);
    }

    static byte[] CropAndResize(SKBitmap source, int size)
    {
        var side = Math.Min(source.Width, source.Height);
        var crop = SKRectI.Create((source.Width - side) / 2, (source.Height - side) / 2, side, side);
        using var square = new SKBitmap(side, side, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        source.ExtractSubset(square, crop);
        using var target = new SKBitmap(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using (var canvas = new SKCanvas(target))
        {
            canvas.Clear(SKColors.White);  // transparent pixels become white, as they look on a page
            using var image = SKImage.FromBitmap(square);
            canvas.DrawImage(image, new SKRect(0, 0, size, size), new SKSamplingOptions(SKCubicResampler.Mitchell));
        }
        using var data = target.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
