using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using DiffusionLab.Engine.Imaging;
using SkiaSharp;

namespace DiffusionLab.Web.Services;

/// <summary>
/// Images people upload, decoded by the engine's codec (which checks sizes before allocating),
/// centre-cropped to a square and resized to the prior's size, then kept in this server's
/// memory under an id "upload:…". They never travel in a shared link.
/// </summary>
public sealed class UploadedImages(IOptions<LabOptions> options)
{
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
        if (bytes.Length > MaxBytes) return (null, $"The file is {bytes.Length / 1048576.0:0.0} MB; the lab accepts images up to {MaxBytes / 1048576.0:0.#} MB.");
        byte[] png;
        try
        {
            using var decoded = ImageCodec.DecodeToBitmap(bytes);
            using var square = ImageCodec.CropAndScaleOnWhite(decoded, size);
            using var data = square.Encode(SKEncodedImageFormat.Png, 100);
            png = data.ToArray();
        }
        catch (ImageDecodeException e)
        {
            return (null, "This image cannot be used: " + e.Message + ".");
        }
        var id = LabForm.UploadPrefix + Guid.NewGuid().ToString("N")[..10];
        images[id] = png;
        order.Enqueue(id);
        while (order.Count > Kept && order.TryDequeue(out var oldest)) images.TryRemove(oldest, out _);
        return (id, null);
    }
}
