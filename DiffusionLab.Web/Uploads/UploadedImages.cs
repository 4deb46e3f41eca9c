using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using Microsoft.Extensions.Options;
using System.Collections.Concurrent;

namespace DiffusionLab.Web.Uploads;

/// <summary>
/// Images people upload, decoded by the engine's codec (which checks sizes before allocating),
/// centre-cropped to a square and resized to the prior's size, then kept in this server's
/// memory under a name that an <see cref="ImageReference"/> of source Upload carries, for the browser that uploaded them (<see cref="BrowserIdentity"/>):
/// a link or a saved run that names someone else's upload does not show it (a student's photo
/// stays theirs), so uploads never travel in a shared link.
/// </summary>
/// <remarks>
/// Kept per browser, not first-in-first-out for the whole server, so one browser uploading a lot
/// cannot push out a classmate's photo: each browser keeps its newest
/// <see cref="LabOptions.UploadsPerBrowser"/>, and when the server holds <see cref="LabOptions.UploadsKept"/>
/// in all, the browser holding the most gives up its oldest.
/// </remarks>
public sealed class UploadedImages(IOptions<LabOptions> options) : IUploadStore
{
    readonly ConcurrentDictionary<string, (PixelImage Image, string? Owner)> images = new();
    readonly object gate = new();
    readonly Dictionary<string, Queue<(long Order, string Name)>> byBrowser = []; // oldest first; key "" for no cookie
    long added;

    public long MaxBytes => options.Value.MaxUploadBytes;
    int PerBrowser => Math.Max(1, options.Value.UploadsPerBrowser);
    int Kept => Math.Max(PerBrowser, options.Value.UploadsKept);

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
        lock (gate)
        {
            images[name] = (image, owner);
            var mine = byBrowser.TryGetValue(owner ?? "", out var queue) ? queue : byBrowser[owner ?? ""] = new();
            mine.Enqueue((added++, name));
            while (mine.Count > PerBrowser) Forget(mine);
            while (images.Count > Kept) Forget(Fullest());
        }
        return (new ImageReference(ImageSource.Upload, name), null);
    }

    /// <summary>The browser holding the most uploads; of those, the one whose oldest upload is oldest.</summary>
    Queue<(long Order, string Name)> Fullest() =>
        byBrowser.Values.MaxBy(queue => (queue.Count, -queue.Peek().Order))!;

    void Forget(Queue<(long Order, string Name)> queue)
    {
        images.TryRemove(queue.Dequeue().Name, out _);
        foreach (var (browser, left) in byBrowser)
            if (left.Count == 0)
            {
                byBrowser.Remove(browser);
                break;
            }
    }
}
