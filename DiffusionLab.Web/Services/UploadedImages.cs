using System.Collections.Concurrent;
using DiffusionLab.Engine.Experiments;
using DiffusionLab.Engine.Imaging;
using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Services;

/// <summary>
/// Images people upload, decoded by the engine's codec (which checks sizes before allocating),
/// centre-cropped to a square and resized to the prior's size, then kept in this server's
/// memory under an id "upload:…". They never travel in a shared link.
/// </summary>
public sealed class UploadedImages(IOptions<LabOptions> options) : IUploadedImages
{
    const int Kept = 200;
    readonly ConcurrentDictionary<string, PixelImage> images = new();
    readonly ConcurrentQueue<string> order = new();

    public long MaxBytes => options.Value.MaxUploadBytes;

    /// <summary>Whether an image reference ("upload:…") names an upload this server still holds.</summary>
    public bool Contains(string reference) =>
        reference.StartsWith(LabForm.UploadPrefix, StringComparison.Ordinal) && images.ContainsKey(reference[LabForm.UploadPrefix.Length..]);

    /// <summary>The upload by its name (the part after "upload:"), as the engine's runner asks for it.</summary>
    public PixelImage? Find(string id) => images.GetValueOrDefault(id);

    /// <summary>Decodes, crops and resizes an upload; returns its image reference, or a message saying why not.</summary>
    public (string? Reference, string? Error) Add(byte[] bytes, int size, int channels)
    {
        if (bytes.Length > MaxBytes) return (null, $"The file is {bytes.Length / 1048576.0:0.0} MB; the lab accepts images up to {MaxBytes / 1048576.0:0.#} MB.");
        PixelImage image;
        try
        {
            using var tensor = ImageCodec.Decode(bytes, size, channels);
            image = PixelImage.FromTensor(tensor);
        }
        catch (ImageDecodeException e)
        {
            return (null, "This image cannot be used: " + e.Message + ".");
        }
        var name = Guid.NewGuid().ToString("N")[..12];
        images[name] = image;
        order.Enqueue(name);
        while (order.Count > Kept && order.TryDequeue(out var oldest)) images.TryRemove(oldest, out _);
        return (LabForm.UploadPrefix + name, null);
    }
}
