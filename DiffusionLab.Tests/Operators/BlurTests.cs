using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Operators;
using TorchSharp;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace DiffusionLab.Tests.Operators;

public class BlurTests
{
    [Fact]
    public void Gaussian_kernel_is_the_normalised_gaussian()
    {
        const double sigma = 1.3;
        var k = GaussianKernel.Weights(9, sigma);
        Assert.Equal(1.0, k.Cast<double>().Sum(), 12);
        Assert.Equal(Math.Exp(-1 / (2 * sigma * sigma)), k[4, 5] / k[4, 4], 12);
        Assert.Equal(Math.Exp(-(9 + 16) / (2 * sigma * sigma)), k[1, 0] / k[4, 4], 12);
        Assert.Equal(k[0, 2], k[2, 0], 15);
    }

    [Fact]
    public void Blur_keeps_a_flat_image_flat_up_to_the_border()
    {
        // Reflect padding: no dark frame, unlike zero padding.
        using var scope = NewDisposeScope();
        var flat = full([1, 3, 7, 10], 0.3, float64);
        using var gaussian = new GaussianBlur([3, 7, 10], 9, 2.0);
        using var motion = new MotionBlur([3, 7, 10], 9, 0.7, seed: 4);
        Assert.True(gaussian.Forward(flat).allclose(flat, rtol: 0, atol: 1e-14));
        Assert.True(motion.Forward(flat).allclose(flat, rtol: 0, atol: 1e-14));
    }

    [Theory]
    [InlineData(5, 8, 7)]
    [InlineData(4, 6, 9)] // even kernel: one more pixel of padding after than before
    [InlineData(3, 2, 3)]
    public void Blur_equals_torch_reflect_pad_then_correlate(int kernelSize, long height, long width)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(21);
        using var blur = new MotionBlur([2, height, width], kernelSize, 1.0, seed: 9);
        var x = RandomBatch(3, [2, height, width], generator);
        long before = (kernelSize - 1) / 2, after = kernelSize - 1 - before;
        var padded = pad(x, [before, after, before, after], PaddingModes.Reflect);
        var kernel = tensor(blur.Kernel.Cast<double>().ToArray(), [1, 1, kernelSize, kernelSize], float64).expand(2, 1, kernelSize, kernelSize);
        var expected = conv2d(padded, kernel, groups: 2);
        Assert.True(blur.Forward(x).allclose(expected, rtol: 1e-12, atol: 1e-14));
    }

    [Fact]
    public void Motion_kernel_is_a_normalised_nonnegative_path_drawn_once_per_seed()
    {
        var k = MotionBlur.TrajectoryKernel(9, 0.5, seed: 3);
        Assert.Equal(1.0, k.Cast<double>().Sum(), 12);
        Assert.All(k.Cast<double>(), v => Assert.True(v >= 0));
        Assert.Equal(k, MotionBlur.TrajectoryKernel(9, 0.5, seed: 3));
        Assert.NotEqual(k, MotionBlur.TrajectoryKernel(9, 0.5, seed: 4));
        using var blur = new MotionBlur([3, 32, 32], 9, 0.5, seed: 3);
        Assert.Equal(k, blur.Kernel);
        Assert.True(k.Cast<double>().Count(v => v > 0) >= 5, "a 9×9 shake should cover several pixels");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Motion_kernel_without_shake_is_a_straight_streak(int seed)
    {
        // The mass of a straight streak has one long axis and (bilinear splatting aside) no width.
        var k = MotionBlur.TrajectoryKernel(15, 0.0, seed);
        double meanRow = 0, meanCol = 0;
        for (int i = 0; i < 15; i++) for (int j = 0; j < 15; j++) { meanRow += k[i, j] * i; meanCol += k[i, j] * j; }
        double rr = 0, cc = 0, rc = 0;
        for (int i = 0; i < 15; i++)
            for (int j = 0; j < 15; j++)
            {
                rr += k[i, j] * (i - meanRow) * (i - meanRow);
                cc += k[i, j] * (j - meanCol) * (j - meanCol);
                rc += k[i, j] * (i - meanRow) * (j - meanCol);
            }
        double mid = (rr + cc) / 2, spread = Math.Sqrt((rr - cc) * (rr - cc) / 4 + rc * rc);
        double widthSquared = mid - spread, lengthSquared = mid + spread;
        Assert.True(lengthSquared > 4, $"streak too short: {lengthSquared}");
        Assert.True(widthSquared < 0.25, $"streak not straight: width² {widthSquared}");
    }

    [Fact]
    public void Blur_parameters_out_of_range_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussianKernel.Weights(0, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => GaussianKernel.Weights(5, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => MotionBlur.TrajectoryKernel(5, 1.5, 0));
    }
}
