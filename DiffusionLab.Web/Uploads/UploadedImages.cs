using System.Collections.Concurrent;
using DiffusionLab.Engine.Imaging;
using Microsoft.Extensions.Options;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Web.Uploads;

/// <summary>
/// Images people upload, decoded by the engine's codec (which checks sizes before allocating),
/// centre-cropped to a square and resized to the prior's size, then kept in this server's
/// memory under a name that an <see cref="ImageReference"/> of source Upload carries, for the browser that uploaded them (<see cref="BrowserIdentity"/>):
/// a link or a saved run that names someone else's upload does not show it (a student's photo
/// stays theirs), so uploads never travel in a shared link.
/// </summary>
public sealed class UploadedImages(IOptions<LabOptions> options) : IUploadStore
{
    const int Kept = 200;
    readonly ConcurrentDictionary<string, (PixelImage Image, string? Owner)> images = new();
    readonly ConcurrentQueue<string> order = new();

    public long MaxBytes => options.Value.MaxUploadBytes;

    /// <summary>Whether an image reference names an upload this server still holds for this browser.</summary>
    public bool Contains(ImageReference reference, string? owner) =>
        reference.Source == ImageSource.Upload && images.TryGetValue(reference.Name, out var upload) && upload.Owner == owner;

    /// <summary>The same question for a link reader (<see cref="SpecLink"/>): may this browser see an upload it names?</summary>
    public Func<ImageReference, bool> AvailableTo(string? owner) => reference => Contains(reference, owner);

    /// <summary>The upload by its name (<see cref="ImageReference.Name"/>), as the engine's runner asks for it once the web edge has checked the owner.</summary>
    public PixelImage? Find(string id) => images.TryGetValue(id, out var upload) ? upload.Image : null;

    /// <summary>Decodes, crops and resizes an upload; returns its image reference, or a message saying why not.</summary>
    /// <param name="owner">The uploading browser's id: only it can use the image.</param>
    public (ImageReference? Reference, string? Error) Add(byte[] bytes, int size, int channels, string? owner)
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
        images[name] = (image, owner);
        order.Enqueue(name);
        while (order.Count > Kept && order.TryDequeue(out var oldest)) images.TryRemove(oldest, out _);
        return (new ImageReference(ImageSource.Upload, name), null);
    }
}
