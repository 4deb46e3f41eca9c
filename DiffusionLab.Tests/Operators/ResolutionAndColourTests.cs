using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

public class ResolutionAndColourTests
{
    [Fact]
    public void Super_resolution_averages_each_block()
    {
        using var scope = NewDisposeScope();
        using var shrink = new SuperResolution([1, 2, 4], 2);
        var x = tensor(new double[] { 1, 2, 5, 6, 3, 4, 7, 9 }, [1, 1, 2, 4], float64);
        var y = shrink.Forward(x);
        Assert.Equal([1L, 1, 1, 2], y.shape);
        Assert.Equal(2.5, y[0, 0, 0, 0].item<double>(), 12);
        Assert.Equal(6.75, y[0, 0, 0, 1].item<double>(), 12);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void Shrinking_a_blocky_image_gives_back_the_small_one(int factor)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(31);
        using var shrink = new SuperResolution([3, 32, 32], factor);
        var small = RandomBatch(2, [3, 32 / factor, 32 / factor], generator);
        var blocky = small.repeat_interleave(factor, 2).repeat_interleave(factor, 3);
        Assert.True(shrink.Forward(blocky).allclose(small, rtol: 1e-12, atol: 1e-14));
        // The pseudo-inverse of block averaging is the blocky (nearest) image: factor² Aᵀ.
        Assert.True((shrink.Adjoint(small) * (factor * factor)).allclose(blocky, rtol: 1e-12, atol: 1e-14));
        var flat = full([1, 3, 32 / factor, 32 / factor], -0.4, float64);
        Assert.True(shrink.BackProject(flat).allclose(full([1, 3, 32, 32], -0.4, float64), rtol: 0, atol: 1e-12));
    }

    [Fact]
    public void Leftover_rows_and_columns_are_not_seen()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(32);
        using var shrink = new SuperResolution([1, 9, 10], 4);
        Assert.Equal([1L, 2, 2], shrink.OutputShape);
        var x = RandomBatch(1, [1, 9, 10], generator);
        var changed = x.clone();
        changed[.., .., 8, ..] = 5.0;
        changed[.., .., .., 8..] = -5.0;
        Assert.True(Same(shrink.Forward(x), shrink.Forward(changed)));
        Assert.True(shrink.BackProject(shrink.Forward(x)).shape.SequenceEqual([1L, 1, 9, 10]));
    }

    [Fact]
    public void Super_resolution_factor_larger_than_the_image_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SuperResolution([1, 3, 8], 4));
    }

    [Fact]
    public void Colorization_sees_the_channel_mean_and_shows_it_in_grey()
    {
        using var scope = NewDisposeScope();
        using var grey = new Colorization([3, 1, 2]);
        var x = tensor(new double[] { 0.3, -0.9, 0.6, 0.0, -0.3, 0.3 }, [1, 3, 1, 2], float64);
        var y = grey.Forward(x);
        Assert.Equal([1L, 1, 1, 2], y.shape);
        Assert.Equal(0.2, y[0, 0, 0, 0].item<double>(), 12);
        Assert.Equal(-0.2, y[0, 0, 0, 1].item<double>(), 12);
        var picture = grey.BackProject(y);
        Assert.True(Same(picture, y.expand(1, 3, 1, 2)));
        Assert.True(grey.Adjoint(y).allclose(y.expand(1, 3, 1, 2) / 3, rtol: 1e-14, atol: 0));
    }
}
