using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

public class InpaintingTests
{
    static long Missing(PixelMask operatorA)
    {
        using var missing = (operatorA.Mask == 0).sum();
        return missing.item<long>();
    }

    [Fact]
    public void Centred_box_removes_exactly_the_middle_square_in_every_channel()
    {
        using var scope = NewDisposeScope();
        using var box = new BoxInpainting([3, 32, 32], 16, BoxPlacement.Centre);
        Assert.Equal((8L, 8L, 16L, 16L), box.Box);
        var y = box.Forward(ones(2, 3, 32, 32, float64));
        Assert.Equal(2 * 3 * (32 * 32 - 16 * 16), y.sum().item<double>());
        Assert.Equal(0.0, y[.., .., 8..24, 8..24].abs().sum().item<double>());
        Assert.Equal(1.0, y[1, 2, 7, 7].item<double>());
        Assert.Equal(1.0, y[0, 0, 24, 24].item<double>());
    }

    [Fact]
    public void Box_at_a_position_is_moved_inside_and_cut_to_the_image()
    {
        using var corner = new BoxInpainting([1, 10, 12], 4, BoxPlacement.AtPosition, left: 11, top: 2);
        Assert.Equal((8L, 2L, 4L, 4L), corner.Box);
        using var huge = new BoxInpainting([1, 10, 12], 256, BoxPlacement.Random, seed: 3, margin: 2);
        Assert.Equal((0L, 0L, 12L, 10L), huge.Box);
        Assert.Equal(120, Missing(huge));
    }

    [Fact]
    public void Random_box_keeps_its_margin_and_moves_with_the_seed()
    {
        var positions = new HashSet<(long, long)>();
        for (int seed = 0; seed < 30; seed++)
        {
            using var box = new BoxInpainting([3, 32, 32], 16, BoxPlacement.Random, margin: 2, seed: seed);
            Assert.InRange(box.Box.Left, 2, 32 - 16 - 2);
            Assert.InRange(box.Box.Top, 2, 32 - 16 - 2);
            Assert.Equal(16 * 16, Missing(box));
            positions.Add((box.Box.Left, box.Box.Top));
        }
        Assert.True(positions.Count > 10, $"only {positions.Count} distinct positions over 30 seeds");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.3)]
    [InlineData(0.7)]
    [InlineData(0.99)]
    public void Random_inpainting_drops_exactly_the_share_asked_for(double fraction)
    {
        using var inpainting = new RandomInpainting([3, 32, 32], fraction, seed: 5);
        Assert.Equal((long)Math.Round(fraction * 1024), Missing(inpainting));
        Assert.Equal(1 - Math.Round(fraction * 1024) / 1024, inpainting.ObservedFraction, 12);
    }

    [Fact]
    public void Random_inpainting_loses_a_pixel_in_all_channels_and_back_projects_it_as_grey()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(13);
        using var inpainting = new RandomInpainting([3, 6, 5], 0.5, seed: 2);
        var x = RandomBatch(2, [3, 6, 5], generator);
        var y = inpainting.Forward(x);
        var seen = (y != 0).to(float64);
        Assert.True(Same(seen[.., 0], seen[.., 1]) && Same(seen[.., 1], seen[.., 2]));
        var picture = inpainting.BackProject(y);
        var mask = inpainting.Mask;
        Assert.True(Same(picture, x * mask));
        Assert.Equal(0.0, (picture * (1 - mask)).abs().sum().item<double>());
    }

    [Fact]
    public void Random_masks_differ_between_seeds()
    {
        using var a = new RandomInpainting([1, 16, 16], 0.5, seed: 1);
        using var b = new RandomInpainting([1, 16, 16], 0.5, seed: 2);
        using var c = new RandomInpainting([1, 16, 16], 0.5, seed: 1);
        Assert.False(Same(a.Mask, b.Mask));
        Assert.True(Same(a.Mask, c.Mask));
    }
}
