using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

public class UNetTests
{
    /// <summary>The output layers start at zero (ADM); move every weight so the network computes something.</summary>
    internal static UNet RandomisedTinyUNet(int imageSize = 8, long seed = 1) => Randomised(UNetConfig.Tiny(imageSize), seed, "tiny");

    /// <summary>A network of <paramref name="config"/> with every weight moved off its initial value, zero output layers included.</summary>
    internal static UNet Randomised(UNetConfig config, long seed, string name = "randomised")
    {
        var model = new UNet(config, NoiseSchedule.Linear(1000), name);
        using var _ = no_grad();
        var generator = new Generator((ulong)seed);
        foreach (var p in model.parameters()) p.add_(randn(p.shape, generator: generator) * 0.1);
        return model;
    }

    [Fact]
    public void Output_has_the_input_shape_and_is_finite()
    {
        using var scope = NewDisposeScope();
        using var model = RandomisedTinyUNet();
        var x = randn(5, 3, 8, 8);
        var t = tensor(new long[] { 0, 10, 500, 998, 999 });
        var eps = model.PredictNoise(x, t);
        Assert.Equal(new long[] { 5, 3, 8, 8 }, eps.shape);
        Assert.True(eps.isfinite().all().item<bool>());
        Assert.True(eps.abs().max().item<float>() > 0, "a randomised network should not predict exactly zero");
    }

    [Fact]
    public void Untrained_network_predicts_zero_noise_so_training_starts_from_the_identity()
    {
        using var scope = NewDisposeScope();
        using var model = new UNet(UNetConfig.Tiny(), NoiseSchedule.Linear(1000));
        var eps = model.PredictNoise(randn(2, 3, 8, 8), tensor(new long[] { 3, 700 }));
        Assert.Equal(0f, eps.abs().max().item<float>());
    }

    [Fact]
    public void Every_group_norm_starts_with_weight_one_and_bias_zero()
    {
        using var model = new UNet(UNetConfig.Tiny(), NoiseSchedule.Linear(1000));
        var norms = model.modules().OfType<GroupNorm>().ToList();
        Assert.NotEmpty(norms);
        foreach (var norm in norms)
        {
            Assert.True(norm.weight!.eq(1).all().item<bool>());
            Assert.True(norm.bias!.eq(0).all().item<bool>());
        }
    }

    [Fact]
    public void Timestep_changes_the_prediction()
    {
        using var scope = NewDisposeScope();
        using var model = RandomisedTinyUNet();
        var x = randn(1, 3, 8, 8).expand(2, 3, 8, 8);
        var eps = model.PredictNoise(x, tensor(new long[] { 10, 900 }));
        Assert.True((eps[0] - eps[1]).abs().max().item<float>() > 1e-4);
    }

    [Fact]
    public void Gradients_with_respect_to_the_input_are_finite_at_batch_64_with_one_thread()
    {
        Assert.Equal(1, TorchRuntime.Threads);
        using var scope = NewDisposeScope();
        using var model = RandomisedTinyUNet(imageSize: 16);
        var x = randn(64, 3, 16, 16).requires_grad_(true);
        var t = randint(0, 1000, [64], dtype: int64);
        var eps = model.PredictNoise(x, t);
        var gradient = autograd.grad([eps.square().sum()], [x])[0];
        Assert.True(gradient.isfinite().all().item<bool>());
        Assert.True(gradient.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void Invalid_configuration_is_refused_with_every_problem_named()
    {
        var config = new UNetConfig(30, 3, 12, [1, 2, 2], 0, [8], NormGroups: 5);
        var e = Assert.Throws<ArgumentException>(() => new UNet(config, NoiseSchedule.Linear(1000)));
        Assert.Contains("cannot be halved", e.Message);
        Assert.Contains("norm groups", e.Message);
        Assert.Contains("residual block", e.Message);
    }

    [Fact]
    public void Sinusoidal_embedding_matches_its_closed_form()
    {
        using var scope = NewDisposeScope();
        var embedding = UNet.TimestepEmbedding(tensor(new long[] { 0, 7 }), 8);
        Assert.Equal(new long[] { 2, 8 }, embedding.shape);
        // Frequency k of 4 is 10000^(−k/4); the first half is cos, the second sin.
        for (int k = 0; k < 4; k++)
        {
            double f = Math.Pow(10000, -k / 4.0);
            Assert.Equal(1.0, embedding[0, k].item<float>(), 6);
            Assert.Equal(Math.Cos(7 * f), embedding[1, k].item<float>(), 5);
            Assert.Equal(Math.Sin(7 * f), embedding[1, 4 + k].item<float>(), 5);
        }
    }
}

public class ClippedDenoiserTests
{
    /// <summary>A stand-in prior whose ε is whatever the test sets, so the clipped result has a closed form.</summary>
    sealed class FixedNoisePrior(Tensor eps) : IDenoiser
    {
        public string Name => "fixed";
        public NoiseSchedule Schedule { get; } = NoiseSchedule.Linear(1000);
        public long[] SampleShape => [1, 1, 2];
        public Device Device => CPU;
        public Tensor PredictNoise(Tensor xt, Tensor t) => eps.clone();
    }

    [Fact]
    public void The_returned_noise_reproduces_the_clamped_tweedie_estimate()
    {
        using var scope = NewDisposeScope();
        var prior = new FixedNoisePrior(tensor(new float[] { 0.5f, -0.2f }).reshape(1, 1, 1, 2));
        var clipped = new ClippedDenoiser(prior);
        var xt = tensor(new float[] { 0.3f, 0.1f }).reshape(1, 1, 1, 2);
        var t = tensor(new long[] { 999 });
        double a = prior.Schedule.AlphaBar(999);
        // Unclipped x̂0 = (x − √(1−ᾱ) ε)/√ᾱ: (0.3 − 0.99998·0.5)/0.0063 ≈ −31.6 → −1, and (0.1 + 0.2)/0.0063 ≈ 47 → 1.
        var eps = clipped.PredictNoise(xt, t);
        double[] expectedX0 = [-1, 1], x = [0.3, 0.1];
        for (int i = 0; i < 2; i++)
            Assert.Equal((x[i] - Math.Sqrt(a) * expectedX0[i]) / Math.Sqrt(1 - a), eps[0, 0, 0, i].item<float>(), 4);
        // Inside the range nothing changes.
        var small = new ClippedDenoiser(new FixedNoisePrior(tensor(new float[] { 0.3f, 0.1f }).reshape(1, 1, 1, 2) / (float)Math.Sqrt(1 - a)));
        var unchanged = small.PredictNoise(xt, t);
        Assert.True((unchanged - xt / (float)Math.Sqrt(1 - a)).abs().max().item<float>() < 1e-3);
    }
}
