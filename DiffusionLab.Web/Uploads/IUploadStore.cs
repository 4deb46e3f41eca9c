using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Web.Uploads;

/// <summary>
/// The images browsers uploaded, each usable only by the browser that uploaded it: what the image
/// picker, the link readers, the run service and the engine's runner ask for.
/// <see cref="UploadedImages"/> keeps them in this process's memory; the lab registers one instance
/// for the whole app.
/// </summary>
/// <remarks>
/// A second implementation (uploads shared by several web instances) has to honour:
/// <list type="bullet">
/// <item><see cref="Add"/> refuses a file over <see cref="MaxBytes"/> before decoding it, and turns
/// every undecodable file into a message a student understands, never an exception.</item>
/// <item>Ownership: <see cref="Contains"/> (and <see cref="AvailableTo"/>) is true only for the
/// browser that uploaded the image; <see cref="IUploadedImages.Find"/> is asked only after the web
/// edge has checked that, and must then find the image on whichever instance runs the spec.</item>
/// <item>Names are unguessable tokens; an unknown name is simply not found.</item>
/// <item>Storage stays bounded: the oldest uploads are forgotten first.</item>
/// </list>
/// </remarks>
public interface IUploadStore : IUploadedImages
{
    /// <summary>The largest file accepted, in bytes.</summary>
    long MaxBytes { get; }

    /// <summary>Whether an image reference names an upload still held for this browser.</summary>
    bool Contains(ImageReference reference, string? owner);

    /// <summary>The same question for a link reader: may this browser see an upload it names?</summary>
    Func<ImageReference, bool> AvailableTo(string? owner);

    /// <summary>Decodes, crops and resizes an upload; returns its image reference, or a message saying why not.</summary>
    /// <param name="owner">The uploading browser's id: only it can use the image.</param>
    (ImageReference? Reference, string? Error) Add(byte[] bytes, int size, int channels, string? owner);
}
