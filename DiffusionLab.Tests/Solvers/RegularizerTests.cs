using DiffusionLab.Engine.Solvers.Regularizers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

public class RegularizerTests
{
    /// <summary>½‖x − v‖² + w·TV(x) with TV written out here independently (isotropic, forward differences, Neumann).</summary>
    static double ProxObjective(double[,] x, double[,] v, double w, double smoothing = 0)
    {
        int h = x.GetLength(0), wd = x.GetLength(1);
        double fit = 0, tv = 0;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < wd; j++)
            {
                fit += 0.5 * (x[i, j] - v[i, j]) * (x[i, j] - v[i, j]);
                double d1 = i + 1 < h ? x[i + 1, j] - x[i, j] : 0, d2 = j + 1 < wd ? x[i, j + 1] - x[i, j] : 0;
                tv += Math.Sqrt(d1 * d1 + d2 * d2 + smoothing * smoothing);
            }
        return fit + w * tv;
    }

    static double[,] ToArray(Tensor image)
    {
        var values = image.to(float64).data<double>().ToArray();
        long h = image.shape[^2], w = image.shape[^1];
        var result = new double[h, w];
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) result[i, j] = values[i * w + j];
        return result;
    }

    [Fact]
    public void Tv_prox_of_a_constant_image_is_itself()
    {
        using var scope = NewDisposeScope();
        var levels = tensor(new float[] { -0.7f, 0.2f, 0.9f, 0.0f, -1.0f, 0.5f }).reshape(2, 3, 1, 1);
        var image = levels.expand(2, 3, 5, 4).contiguous();
        var prox = new TotalVariation().Prox(image, 0.8);
        Assert.True((prox - image).abs().max().item<float>() < 1e-6f);
        Assert.Equal(0.0, new TotalVariation().Value(image)!.abs().max().item<float>(), 6);
    }

    [Fact]
    public void Tv_prox_of_an_edge_shrinks_the_jump_by_the_closed_form_amount()
    {
        // Every row is the 1-D signal (a, a, a, b, b, b): the prox moves each side towards the
        // other by w/3 (w over the number of pixels on that side), and the vertical differences stay zero.
        using var scope = NewDisposeScope();
        const double a = -0.5, b = 0.5, w = 0.3;
        var row = tensor(new double[] { a, a, a, b, b, b });
        var image = row.expand(1, 1, 4, 6).contiguous();
        var prox = new TotalVariation(proxIterations: 1000).Prox(image, w);
        var expected = tensor(new double[] { a + w / 3, a + w / 3, a + w / 3, b - w / 3, b - w / 3, b - w / 3 }).expand(1, 1, 4, 6);
        Assert.True((prox - expected).abs().max().item<double>() < 1e-4, $"max error {(prox - expected).abs().max().item<double>()}");
    }

    [Fact]
    public void Tv_prox_of_a_vector_is_the_1d_prox()
    {
        using var scope = NewDisposeScope();
        var v = tensor(new double[] { 1, 1, 0, 0, 0, 0, 0, 0 }).reshape(1, 8);
        var prox = new TotalVariation(proxIterations: 1000).Prox(v, 0.2);
        var expected = tensor(new double[] { 0.9, 0.9, 1 / 30.0, 1 / 30.0, 1 / 30.0, 1 / 30.0, 1 / 30.0, 1 / 30.0 }).reshape(1, 8);
        Assert.True((prox - expected).abs().max().item<double>() < 1e-4, $"max error {(prox - expected).abs().max().item<double>()}");
    }

    [Fact]
    public void Tv_prox_is_at_least_as_good_as_a_long_smoothed_gradient_descent_and_any_nearby_image()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        const double w = 0.25;
        var v = randn([1, 1, 6, 6], generator: generator, dtype: float64);
        var vArray = ToArray(v);
        var prox = new TotalVariation(proxIterations: 2000).Prox(v, w);
        double proxObjective = ProxObjective(ToArray(prox), vArray, w);

        // Gradient descent on the smoothed objective ½‖x − v‖² + w Σ √(|∇x|² + ε²), written
        // with autograd rather than with the code under test; its result bounds the true minimum from above.
        const double smoothing = 2e-2;
        var x = v.clone().requires_grad_();
        double step = 1 / (1 + 8 * w / smoothing);
        for (int k = 0; k < 2500; k++)
        {
            using var iteration = NewDisposeScope();
            var d1 = nn.functional.pad(x[.., .., 1.., ..] - x[.., .., ..5, ..], [0, 0, 0, 1]);
            var d2 = nn.functional.pad(x[.., .., .., 1..] - x[.., .., .., ..5], [0, 1, 0, 0]);
            var objective = 0.5 * (x - v).square().sum() + w * (d1.square() + d2.square() + smoothing * smoothing).sqrt().sum();
            var gradient = autograd.grad([objective], [x])[0];
            using (no_grad()) x.sub_(gradient * step);
        }
        double descentObjective = ProxObjective(ToArray(x.detach()), vArray, w);
        Assert.True(proxObjective <= descentObjective + 1e-6, $"prox {proxObjective} vs gradient descent {descentObjective}");

        for (int trial = 0; trial < 200; trial++)
        {
            using var perturbation = randn([6, 6], generator: generator, dtype: float64) * 1e-3;
            var nearby = ToArray(prox[0, 0] + perturbation);
            Assert.True(proxObjective <= ProxObjective(nearby, vArray, w) + 1e-7);
        }
    }

    [Fact]
    public void Tv_value_sums_gradient_magnitudes_over_channels()
    {
        using var scope = NewDisposeScope();
        // Channel 0: the ramp 0, 1, 2 in both rows: |∇| = 1 on the first two columns of each row → 4.
        // Channel 1: [[0, 3, 0], [4, 0, 0]]: (0,0) has differences 4 down, 3 right → 5; (0,1) has −3 and −3 → √18;
        // (1,0) has −4 to the right → 4; everything else is flat or on the boundary.
        var image = tensor(new float[] { 0, 1, 2, 0, 1, 2, 0, 3, 0, 4, 0, 0 }).reshape(1, 2, 2, 3);
        Assert.Equal(4 + 5 + Math.Sqrt(18) + 4, new TotalVariation().Value(image)!.item<float>(), 4);
    }

    [Fact]
    public void Tikhonov_prox_is_closed_form_for_both_centres()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(7);
        var v = randn([2, 3, 4, 4], generator: generator);
        var toZero = new Tikhonov(TikhonovCentre.Zero).Prox(v, 3);
        Assert.True((toZero - v / 4).abs().max().item<float>() < 1e-6f);

        var toMean = new Tikhonov(TikhonovCentre.ChannelMean).Prox(v, 3);
        var mean = v.mean([2, 3], keepdim: true);
        Assert.True((toMean.mean([2, 3], keepdim: true) - mean).abs().max().item<float>() < 1e-6f);
        Assert.True((toMean - mean - (v - mean) / 4).abs().max().item<float>() < 1e-6f);
        // Zero-gradient check of ½‖x − v‖² + 3·½‖x − mean(x)‖² at the prox: (x − v) + 3(x − mean x) = 0.
        var centred = toMean - toMean.mean([2, 3], keepdim: true);
        Assert.True(((toMean - v) + 3 * centred).abs().max().item<float>() < 1e-5f);
    }

    [Fact]
    public void Plug_and_play_denoiser_is_the_exact_gaussian_posterior_mean_at_a_matching_level()
    {
        using var scope = NewDisposeScope();
        var prior = new IsotropicGaussianPrior([3, 4, 4], variance: 0.4);
        var denoiser = new DiffusionDenoiser(prior);
        using var generator = new Generator(8);
        var v = randn([2, 3, 4, 4], generator: generator);
        foreach (int t in new[] { 0, 120, 400, 999 })
        {
            double sigma = denoiser.NoiseLevel(t);
            Assert.Equal(t, denoiser.TimestepFor(sigma));
            var denoised = denoiser.Prox(v, sigma * sigma);
            var posteriorMean = v * (0.4 / (0.4 + sigma * sigma));
            Assert.True((denoised - posteriorMean).abs().max().item<float>() < 1e-4f, $"t = {t}");
        }
        Assert.Equal(4, denoiser.NetworkEvaluations);
        Assert.Equal(4, prior.Calls);
        Assert.Null(denoiser.Value(v));
    }

    [Fact]
    public void Plug_and_play_picks_the_nearest_level_in_log_scale_and_clamps_at_the_ends()
    {
        var denoiser = new DiffusionDenoiser(new IsotropicGaussianPrior([2], 1));
        double low = denoiser.NoiseLevel(300), high = denoiser.NoiseLevel(301);
        Assert.Equal(300, denoiser.TimestepFor(low * Math.Pow(high / low, 0.4)));
        Assert.Equal(301, denoiser.TimestepFor(low * Math.Pow(high / low, 0.6)));
        Assert.Equal(0, denoiser.TimestepFor(1e-6));
        Assert.Equal(999, denoiser.TimestepFor(1e6));
        for (int t = 1; t < 1000; t++) Assert.True(denoiser.NoiseLevel(t) > denoiser.NoiseLevel(t - 1));
    }
}
