using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>Downloads are enlarged by whole pixels as far as a small picture needs and a large one does not.</summary>
public sealed class RunDownloadsTests
{
    [Theory]
    [InlineData(32, 8, 8)]
    [InlineData(64, 8, 4)]
    [InlineData(128, 8, 2)]
    [InlineData(256, 8, 1)]
    [InlineData(512, 8, 1)]
    [InlineData(32, 4, 4)]   // the trajectory's x_t beside x0Hat, half as enlarged
    [InlineData(256, 4, 1)]
    [InlineData(0, 8, 8)]    // a size not known: the 32-pixel scale's cap, never a division by zero
    public void The_enlargement_shrinks_as_the_image_grows(int side, int scale, int expected) =>
        Assert.Equal(expected, RunDownloads.ScaleFor(side, scale));
}
