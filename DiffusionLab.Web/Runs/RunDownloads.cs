using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using System.Buffers.Binary;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Downloads of a kept run: the result as PNG and the trajectory (x_t beside x0Hat at every
/// keyframe) as an animated PNG, both enlarged by whole pixels so they stay crisp. A run on an
/// uploaded image is downloaded only by the browser that uploaded it (<see cref="ClassroomPage.MayShow(LabRun, string?)"/>).
/// </summary>
public static class RunDownloads
{
    /// <summary>How much a 32-pixel run is enlarged; a larger image less (<see cref="ScaleFor"/>).</summary>
    public const int Scale = 8;

    /// <summary>
    /// Whole-pixel enlargement for an image <paramref name="side"/> pixels wide: <paramref name="scale"/> for the 32-pixel
    /// priors, less for larger images, never below 1, so a 256×256 run downloads at its own size rather than 2048 pixels.
    /// </summary>
    public static int ScaleFor(int side, int scale = Scale) =>
        side <= 0 ? scale : Math.Clamp(scale * (int)ParameterDefinition.ReferenceImageSide / side, 1, scale);

    // A PNG's width is the first field of its IHDR chunk, right after the signature and the chunk's length and type.
    static int PngWidth(byte[] png) => png.Length >= 24 ? BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)) : (int)ParameterDefinition.ReferenceImageSide;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/runs/{id}/result.png", (string id, HttpContext http, ILiveRuns runs) =>
        {
            var run = runs.Find(id);
            if (run is not null && !ClassroomPage.MayShow(run, BrowserIdentity.Sent(http))) return Results.NotFound(ClassroomPage.PrivateRunMessage);
            if (run?.Latest is not { X0Hat: { } result }) return Results.NotFound("No such run, or it has no frames yet.");
            return Results.File(FrameEncoder.UpscalePng(result.Png, ScaleFor(PngWidth(result.Png))), "image/png", $"diffusionlab-{id}-result.png");
        }).RequireRateLimiting(LabLimits.DownloadPolicy);
        endpoints.MapGet("/runs/{id}/trajectory.png", async (string id, HttpContext http, ILiveRuns runs, TrajectoryCache trajectories, CancellationToken cancellation) =>
        {
            var run = runs.Find(id);
            if (run is null) return Results.NotFound("No such run.");
            if (!ClassroomPage.MayShow(run, BrowserIdentity.Sent(http))) return Results.NotFound(ClassroomPage.PrivateRunMessage);
            var keyframes = run.KeyframesSnapshot();
            if (keyframes.Count == 0) return Results.NotFound("This run has no keyframes yet.");
            return Results.File(await trajectories.ForAsync(run.Id, keyframes, cancellation), "image/apng", $"diffusionlab-{id}-trajectory.png");
        }).RequireRateLimiting(LabLimits.DownloadPolicy);
    }

    /// <summary>Each keyframe as x_t and x0Hat side by side, animated.</summary>
    public static byte[] Trajectory(IReadOnlyList<StepRecord> keyframes)
    {
        var frames = new List<byte[]>(keyframes.Count);
        int width = 0, height = 0;
        foreach (var keyframe in keyframes.Where(k => k.Xt is not null && k.X0Hat is not null))
        {
            var xt = FrameEncoder.DecodeRgba(keyframe.Xt!.Png, out width, out height);
            var x0Hat = FrameEncoder.DecodeRgba(keyframe.X0Hat!.Png, out _, out _);
            frames.Add(SideBySide(xt, x0Hat, width, height));
        }
        return AnimatedPngEncoder.Encode(frames, width * 2, height, ScaleFor(width, Scale / 2), frameDelayMs: 80);
    }

    static byte[] SideBySide(byte[] left, byte[] right, int width, int height)
    {
        var row = width * 4;
        var both = new byte[left.Length * 2];
        for (var y = 0; y < height; y++)
        {
            Buffer.BlockCopy(left, y * row, both, y * row * 2, row);
            Buffer.BlockCopy(right, y * row, both, y * row * 2 + row, row);
        }
        return both;
    }
}
