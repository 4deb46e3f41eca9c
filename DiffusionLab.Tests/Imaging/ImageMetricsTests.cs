using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Imaging;

public class ImageMetricsTests
{
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;

    [Fact]
    public void Psnr_is_ten_log_of_one_over_the_mse_in_unit_range_per_sample()
    {
        using var scope = NewDisposeScope();
        var reference = zeros(3, 1, 2, 2, float64);
        var estimate = zeros(3, 1, 2, 2, float64);
        estimate[0] = 0.2;              // 0.1 in [0, 1] everywhere: MSE 0.01
        estimate[1] = 0.02;             // 0.01 everywhere: MSE 1e-4
        estimate[2, 0, 1, 0] = 1.0;     // 0.5 in one pixel of four: MSE 0.0625
        var psnr = ImageMetrics.Psnr(estimate, reference);
        Assert.Equal(20.0, psnr[0], 10);
        Assert.Equal(40.0, psnr[1], 10);
        Assert.Equal(10 * Math.Log10(16), psnr[2], 10);
    }

    [Fact]
    public void Psnr_of_identical_images_is_infinite_and_values_beyond_the_range_are_clipped()
    {
        using var scope = NewDisposeScope();
        var reference = ones(2, 3, 4, 4);
        var estimate = reference.clone();
        estimate[1] = 3.0; // clips to 1, the reference value
        Assert.All(ImageMetrics.Psnr(estimate, reference), v => Assert.Equal(double.PositiveInfinity, v));
        Assert.Throws<ArgumentException>(() => ImageMetrics.Psnr(ones(1, 3, 4, 4), ones(1, 3, 4, 5)));
    }

    [Fact]
    public void Ssim_of_an_image_with_itself_is_one()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(60);
        foreach (long[] shape in new long[][] { [2, 3, 32, 32], [1, 1, 6, 8] })
        {
            var x = rand(shape, float64, generator: generator) * 2 - 1;
            Assert.All(ImageMetrics.Ssim(x, x), v => Assert.Equal(1.0, v, 12));
        }
    }

    [Theory]
    [InlineData(0.5, 0.5)]
    [InlineData(0.2, 0.7)]
    [InlineData(0.0, 1.0)]
    public void Ssim_of_flat_images_is_the_luminance_term(double a, double b)
    {
        // No variance: the contrast-structure term is C2/C2 = 1 and SSIM = (2ab + C1)/(a² + b² + C1).
        using var scope = NewDisposeScope();
        var x = full([1, 3, 16, 12], 2 * a - 1, float64);
        var y = full([1, 3, 16, 12], 2 * b - 1, float64);
        Assert.Equal((2 * a * b + C1) / (a * a + b * b + C1), ImageMetrics.Ssim(x, y)[0], 12);
    }

    [Fact]
    public void Ssim_is_symmetric_and_per_sample()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(61);
        var x = rand([2, 3, 16, 16], float64, generator: generator) * 2 - 1;
        var y = (x + 0.3 * randn([2, 3, 16, 16], float64, generator: generator)).clamp(-1, 1);
        var forward = ImageMetrics.Ssim(x, y);
        var backward = ImageMetrics.Ssim(y, x);
        Assert.Equal(forward[0], backward[0], 12);
        Assert.Equal(forward[1], backward[1], 12);
        Assert.Equal(forward[1], ImageMetrics.Ssim(x[1..2], y[1..2])[0], 12);
        Assert.InRange(forward[0], -1, 0.99);
    }

    [Fact]
    public void Ssim_of_a_window_sized_image_and_its_affine_copy_has_the_closed_form()
    {
        // One 11×11 window: with Gaussian-weighted mean μ and variance v of x, the copy s·x + t
        // (in [0, 1]) has mean sμ + t, variance s²v and covariance s·v.
        using var scope = NewDisposeScope();
        using var generator = new Generator(62);
        const double s = 0.6, t = 0.15;
        var unit = rand([1, 1, 11, 11], float64, generator: generator) * 0.8 + 0.1;
        var pixels = unit.data<double>().ToArray();
        var g = Enumerable.Range(0, 11).Select(i => Math.Exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5))).ToArray();
        double total = g.Sum() * g.Sum(), mean = 0, meanSquare = 0;
        for (int i = 0; i < 11; i++)
            for (int j = 0; j < 11; j++)
            {
                double w = g[i] * g[j] / total, v = pixels[i * 11 + j];
                mean += w * v;
                meanSquare += w * v * v;
            }
        double variance = meanSquare - mean * mean, copyMean = s * mean + t;
        double expected = (2 * mean * copyMean + C1) * (2 * s * variance + C2)
                          / ((mean * mean + copyMean * copyMean + C1) * ((1 + s * s) * variance + C2));
        var x = unit * 2 - 1;
        var y = (s * unit + t) * 2 - 1;
        Assert.Equal(expected, ImageMetrics.Ssim(x, y)[0], 12);
    }

    [Fact]
    public void Ssim_averages_the_local_map_over_every_full_window_and_channel()
    {
        // Written out with loops: the mean over channels and over the (H−10)×(W−10) window positions.
        using var scope = NewDisposeScope();
        using var generator = new Generator(63);
        const int C = 2, H = 13, W = 14;
        var x = rand([1, C, H, W], float64, generator: generator);
        var y = (x + 0.2 * randn([1, C, H, W], float64, generator: generator)).clamp(0, 1);
        double[] a = x.data<double>().ToArray(), b = y.data<double>().ToArray();
        var g = Enumerable.Range(0, 11).Select(i => Math.Exp(-(i - 5) * (i - 5) / (2 * 1.5 * 1.5))).ToArray();
        double total = g.Sum() * g.Sum(), sum = 0;
        int count = 0;
        for (int c = 0; c < C; c++)
            for (int r = 0; r + 11 <= H; r++)
                for (int q = 0; q + 11 <= W; q++)
                {
                    double mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
                    for (int i = 0; i < 11; i++)
                        for (int j = 0; j < 11; j++)
                        {
                            double w = g[i] * g[j] / total;
                            double u = a[(c * H + r + i) * W + q + j], v = b[(c * H + r + i) * W + q + j];
                            mx += w * u; my += w * v; xx += w * u * u; yy += w * v * v; xy += w * u * v;
                        }
                    double vx = xx - mx * mx, vy = yy - my * my, cxy = xy - mx * my;
                    sum += (2 * mx * my + C1) * (2 * cxy + C2) / ((mx * mx + my * my + C1) * (vx + vy + C2));
                    count++;
                }
        Assert.Equal(sum / count, ImageMetrics.Ssim(x * 2 - 1, y * 2 - 1)[0], 12);
    }

    [Fact]
    public void Data_consistency_is_the_relative_residual_per_sample()
    {
        using var scope = NewDisposeScope();
        using var identity = new Denoise([1, 2, 2]);
        var y = full([2, 1, 2, 2], 2.0, float64);
        var estimate = y.clone();
        estimate[0] = 1.0;
        var consistency = ImageMetrics.DataConsistency(y, identity.Forward(estimate));
        Assert.Equal(0.5, consistency[0], 12);
        Assert.Equal(0.0, consistency[1], 12);

        using var inpainting = new RandomInpainting([3, 8, 8], 0.5, seed: 1);
        using var generator = new Generator(64);
        var x = randn([1, 3, 8, 8], float64, generator: generator);
        var measured = inpainting.Forward(x);
        var changedWhereUnseen = x + (1 - inpainting.Mask) * 5;
        Assert.Equal(0.0, ImageMetrics.DataConsistency(measured, inpainting.Forward(changedWhereUnseen))[0], 12);
    }
}
