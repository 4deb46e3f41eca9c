using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using System.Buffers.Binary;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Downloads of a kept run: the result as PNG, the trajectory (x_t beside x̂0 at every keyframe,
/// labelled, with its step and t) as an animated PNG, and a filmstrip of keyframes as one PNG, all
/// enlarged by whole pixels so they stay crisp on a projector. A run on an
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
        endpoints.MapGet("/runs/{id}/trajectory.png", async (string id, HttpContext http, ILiveRuns runs, LabCatalog catalog, TrajectoryCache trajectories, CancellationToken cancellation) =>
        {
            var run = runs.Find(id);
            if (run is null) return Results.NotFound("No such run.");
            if (!ClassroomPage.MayShow(run, BrowserIdentity.Sent(http))) return Results.NotFound(ClassroomPage.PrivateRunMessage);
            var keyframes = run.KeyframesSnapshot();
            if (keyframes.Count == 0) return Results.NotFound("This run has no keyframes yet.");
            var labels = PanelLabels.For(catalog.FindSolver(run.Spec.Solver));
            return Results.File(await trajectories.ForAsync(run.Id, keyframes, k => Trajectory(k, labels), cancellation), "image/apng", $"diffusionlab-{id}-trajectory.png");
        }).RequireRateLimiting(LabLimits.DownloadPolicy);
        endpoints.MapGet("/runs/{id}/filmstrip.png", (string id, HttpContext http, ILiveRuns runs, LabCatalog catalog) =>
        {
            var run = runs.Find(id);
            if (run is null) return Results.NotFound("No such run.");
            if (!ClassroomPage.MayShow(run, BrowserIdentity.Sent(http))) return Results.NotFound(ClassroomPage.PrivateRunMessage);
            var keyframes = run.KeyframesSnapshot();
            if (keyframes.Count == 0) return Results.NotFound("This run has no keyframes yet.");
            var png = Filmstrip(keyframes, PanelLabels.For(catalog.FindSolver(run.Spec.Solver)));
            return Results.File(png, "image/png", $"diffusionlab-{id}-filmstrip.png");
        }).RequireRateLimiting(LabLimits.DownloadPolicy);
        // A saved run's last x̂0, small, for the saved-runs list (from the store: the run may be long gone from memory).
        endpoints.MapGet("/runs/{id}/thumbnail.png", (string id, HttpContext http, IRunStore store) =>
        {
            if (store.Thumbnail(id) is not { } thumbnail) return Results.NotFound("No such saved run.");
            if (!ClassroomPage.MayShow(thumbnail.SpecQuery, thumbnail.Owner, BrowserIdentity.Sent(http))) return Results.NotFound(ClassroomPage.PrivateRunMessage);
            return Results.File(FrameEncoder.UpscalePng(thumbnail.Png, 2), "image/png");
        });
    }

    /// <summary>How much each image pixel is enlarged in the trajectory and the filmstrip: a 32×32 run becomes 384 px a panel, readable from the back of a room.</summary>
    public const int ExportScale = 12;
    const int FontScale = 3, Gap = 12;
    static readonly (byte, byte, byte) Background = (255, 255, 255), Ink = (26, 29, 46), Muted = (90, 95, 115);

    /// <summary>
    /// Each keyframe as x_t beside x̂0 (or a splitting solver's x beside z), labelled, with the step and
    /// t written under them, animated: large enough to project.
    /// </summary>
    public static byte[] Trajectory(IReadOnlyList<StepRecord> keyframes, PanelLabels labels)
    {
        var frames = new List<byte[]>(keyframes.Count);
        RgbaCanvas? canvas = null;
        foreach (var keyframe in keyframes.Where(k => k.Xt is not null && k.X0Hat is not null))
        {
            var xt = FrameEncoder.DecodeRgba(keyframe.Xt!.Png, out var width, out var height);
            var x0Hat = FrameEncoder.DecodeRgba(keyframe.X0Hat!.Png, out _, out _);
            int scale = ScaleFor(width, ExportScale); // a 256-pixel run is drawn at its own size
            int panel = width * scale, line = RgbaCanvas.GlyphHeight * FontScale;
            canvas = new RgbaCanvas(2 * panel + 3 * Gap, height * scale + 2 * line + 4 * Gap, Background);
            canvas.Write(ExportText(labels.State, labels.StateSymbol), Gap, Gap, FontScale, Ink);
            canvas.Write(ExportText(labels.Estimate, labels.EstimateSymbol), 2 * Gap + panel, Gap, FontScale, Ink);
            canvas.Draw(xt, width, height, Gap, 2 * Gap + line, scale);
            canvas.Draw(x0Hat, width, height, 2 * Gap + panel, 2 * Gap + line, scale);
            canvas.Write(StepText(keyframe), Gap, 3 * Gap + line + height * scale, FontScale, Muted);
            frames.Add(canvas.Pixels);
        }
        if (canvas is null) throw new ArgumentException("no keyframe has both pictures", nameof(keyframes));
        return AnimatedPngEncoder.Encode(frames, canvas.Width, canvas.Height, scale: 1, frameDelayMs: 120);
    }

    /// <summary>Up to <paramref name="columns"/> keyframes spread over the run, x_t above x̂0, each column headed by its step: one still picture for a slide or a handout.</summary>
    public static byte[] Filmstrip(IReadOnlyList<StepRecord> keyframes, PanelLabels labels, int columns = 8)
    {
        var usable = keyframes.Where(k => k.Xt is not null && k.X0Hat is not null).ToList();
        if (usable.Count == 0) throw new ArgumentException("no keyframe has both pictures", nameof(keyframes));
        var count = Math.Min(columns, usable.Count);
        var chosen = Enumerable.Range(0, count)
            .Select(i => usable[count == 1 ? usable.Count - 1 : (int)Math.Round(i * (usable.Count - 1.0) / (count - 1))])
            .Distinct().ToList();
        FrameEncoder.DecodeRgba(chosen[0].Xt!.Png, out var width, out var height);
        const int font = 2;
        int scale = ScaleFor(width, 6);
        int panel = width * scale, line = RgbaCanvas.GlyphHeight * font, labelWidth = Math.Max(RgbaCanvas.TextWidth(ExportText(labels.State, ""), font), RgbaCanvas.TextWidth(ExportText(labels.Estimate, ""), font)) + Gap;
        var canvas = new RgbaCanvas(labelWidth + chosen.Count * (panel + Gap) + Gap, 2 * Gap + line + 2 * (height * scale) + 2 * Gap, Background);
        int top = 2 * Gap + line, second = top + height * scale + Gap;
        canvas.Write(ExportText(labels.State, ""), Gap / 2, top + panel / 2, font, Ink);
        canvas.Write(ExportText(labels.Estimate, ""), Gap / 2, second + panel / 2, font, Ink);
        for (var i = 0; i < chosen.Count; i++)
        {
            var x = labelWidth + i * (panel + Gap);
            canvas.Write($"step {chosen[i].Step + 1}", x, Gap, font, Muted);
            canvas.Draw(FrameEncoder.DecodeRgba(chosen[i].Xt!.Png, out _, out _), width, height, x, top, scale);
            canvas.Draw(FrameEncoder.DecodeRgba(chosen[i].X0Hat!.Png, out _, out _), width, height, x, second, scale);
        }
        return canvas.ToPng();
    }

    /// <summary>"step 12 of 250   t = 0.53": what the trajectory writes under each frame.</summary>
    internal static string StepText(StepRecord keyframe) =>
        $"step {keyframe.Step + 1} of {keyframe.Total}" + (double.IsFinite(keyframe.T) ? $"   t = {NumberText.Fixed(keyframe.T, 2)}" : "");

    /// <summary>A panel's name in the export font, which has no hat: x̂0 is written "x0 estimate".</summary>
    static string ExportText(string name, string note) =>
        (name.Replace("x̂0", "x0 estimate", StringComparison.Ordinal) + (note.Length > 0 && !name.Contains("x̂0", StringComparison.Ordinal) ? " " + note : "")).Trim();
}
