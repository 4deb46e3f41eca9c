using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>The exports a teacher projects: the labelled trajectory and the filmstrip, large enough to read from the back.</summary>
public class RunDownloadsTests
{
    /// <summary>A 32×32 frame of one flat colour, as a kept keyframe holds it (PNG only).</summary>
    static StepImage Flat(byte grey)
    {
        var rgba = new byte[32 * 32 * 4];
        for (var i = 0; i < rgba.Length; i += 4) (rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]) = (grey, grey, grey, 255);
        return StepImage.FromPng(FrameEncoder.EncodeRgba(rgba, 32, 32));
    }

    static IReadOnlyList<StepRecord> Keyframes(int count) =>
        Enumerable.Range(0, count).Select(i => new StepRecord
        {
            Step = i * 10, Total = count * 10, T = 1 - i / (double)count, Xt = Flat((byte)(20 * i)), X0Hat = Flat((byte)(200 - 10 * i)),
        }).ToList();

    static PanelLabels Dps => PanelLabels.For(SolverCatalog.Find("dps"));

    [Fact]
    public void The_trajectory_is_projector_sized_animated_and_labelled_with_its_step()
    {
        var png = RunDownloads.Trajectory(Keyframes(5), Dps);
        Assert.Contains("acTL", System.Text.Encoding.ASCII.GetString(png, 0, 200));
        // The first frame (the PNG's default image): two 384-pixel panels and text rows above and below them.
        var first = FrameEncoder.DecodeRgba(png, out var width, out var height);
        Assert.True(width >= 2 * 32 * RunDownloads.ExportScale && height > 32 * RunDownloads.ExportScale, $"{width}×{height} is too small to project");
        // The label row above the panels and the step counter below them hold dark ink on the white page.
        Assert.True(InkRows(first, width, 0, 40) > 5, "the panels' names should be written above them");
        Assert.True(InkRows(first, width, height - 40, height) > 5, "the step and t should be written under the panels");
        Assert.Equal("step 1 of 50   t = 1.00", RunDownloads.StepText(Keyframes(5)[0]));
    }

    [Fact]
    public void The_filmstrip_is_one_still_picture_of_keyframes_spread_over_the_run()
    {
        var png = RunDownloads.Filmstrip(Keyframes(20), Dps, columns: 6);
        Assert.DoesNotContain("acTL", System.Text.Encoding.ASCII.GetString(png, 0, Math.Min(200, png.Length)));
        var pixels = FrameEncoder.DecodeRgba(png, out var width, out var height);
        Assert.True(width > 6 * 32 * 6 && height > 2 * 32 * 6, $"{width}×{height} should hold six columns of two 192-pixel panels");
        // The first and last keyframes are both in it: the darkest x_t (step 1) and the brightest (step 191).
        var greys = Enumerable.Range(0, width * height).Select(i => pixels[i * 4]).ToHashSet();
        Assert.Contains((byte)0, greys);
        Assert.Contains((byte)(20 * 19 % 256), greys);
    }

    static int InkRows(byte[] rgba, int width, int top, int bottom) =>
        Enumerable.Range(top, bottom - top).Count(y => Enumerable.Range(0, width).Any(x => rgba[(y * width + x) * 4] < 100));

    /// <summary>Downloads are enlarged by whole pixels as far as a small picture needs and a large one does not.</summary>
    [Theory]
    [InlineData(32, 8, 8)]
    [InlineData(64, 8, 4)]
    [InlineData(128, 8, 2)]
    [InlineData(256, 8, 1)]
    [InlineData(512, 8, 1)]
    [InlineData(32, 12, 12)] // the projector trajectory's panels
    [InlineData(256, 12, 1)]
    [InlineData(0, 8, 8)]    // a size not known: the 32-pixel scale's cap, never a division by zero
    public void The_enlargement_shrinks_as_the_image_grows(int side, int scale, int expected) =>
        Assert.Equal(expected, RunDownloads.ScaleFor(side, scale));
}
