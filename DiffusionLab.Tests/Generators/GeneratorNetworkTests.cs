using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Generators;

public sealed class GeneratorNetworkTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(32)]
    public void The_generator_maps_codes_to_images_in_range_and_the_discriminator_gives_one_logit_each(int size)
    {
        using var scope = NewDisposeScope();
        var config = new GeneratorConfig(size, 3, 16, 8);
        using var generator = new ConvGenerator(config);
        using var discriminator = new Discriminator(config, spectral: true);
        var images = generator.call(randn([5, 16], generator: new Generator(1)));
        Assert.Equal(new long[] { 5, 3, size, size }, images.shape);
        Assert.True(images.abs().max().item<float>() <= 1);
        Assert.Equal(new long[] { 5 }, discriminator.call(images).shape);
    }

    [Fact]
    public void Codes_of_the_wrong_length_are_refused_in_words()
    {
        using var generator = new ConvGenerator(GeneratorConfig.Tiny());
        using var z = zeros(2, 5);
        var error = Assert.Throws<ArgumentException>(() => generator.call(z));
        Assert.Contains("[B, 4]", error.Message);
    }

    [Fact]
    public void The_generator_in_eval_mode_is_a_function_of_z_alone()
    {
        using var scope = NewDisposeScope();
        using var generator = new ConvGenerator(GeneratorConfig.Tiny(), seed: 3);
        // A few training-mode calls move the batch norms' running statistics away from their start.
        for (int i = 0; i < 3; i++) generator.call(randn([16, 4], generator: new Generator((ulong)i)));
        generator.eval();
        var z = randn([6, 4], generator: new Generator(9));
        var first = generator.call(z);
        var again = generator.call(z.clone());
        Assert.True(first.eq(again).all().item<bool>(), "the same z gave two different images");
        var alone = generator.call(z.narrow(0, 2, 1));
        Assert.True(alone.allclose(first.narrow(0, 2, 1), rtol: 0, atol: 1e-6), "an image depended on the other codes in its batch");
        var other = generator.call(randn([6, 4], generator: new Generator(10)));
        Assert.False(other.allclose(first, rtol: 0, atol: 1e-3), "different codes gave the same images");
    }

    [Fact]
    public void Networks_built_with_the_same_seed_are_the_same_network()
    {
        using var scope = NewDisposeScope();
        using var a = new ConvVae(GeneratorConfig.Tiny(), seed: 5);
        using var b = new ConvVae(GeneratorConfig.Tiny(), seed: 5);
        using var c = new ConvVae(GeneratorConfig.Tiny(), seed: 6);
        var bWeights = b.state_dict();
        var cWeights = c.state_dict();
        Assert.All(a.state_dict(), pair => Assert.True(pair.Value.eq(bWeights[pair.Key]).all().item<bool>(), pair.Key));
        Assert.Contains(a.state_dict(), pair => pair.Value.is_floating_point() && pair.Value.numel() > 1 && !pair.Value.eq(cWeights[pair.Key]).all().item<bool>());
    }

    [Fact]
    public void Spectral_normalisation_brings_each_layers_largest_singular_value_to_one()
    {
        using var scope = NewDisposeScope();
        using var discriminator = new Discriminator(GeneratorConfig.Tiny(16), spectral: true, seed: 2);
        using var plain = new Discriminator(GeneratorConfig.Tiny(16), spectral: false, seed: 2);
        // Each training forward pass is one power iteration.
        var x = randn([4, 3, 16, 16], generator: new Generator(4));
        for (int i = 0; i < 60; i++) discriminator.call(x);
        discriminator.eval();
        var layers = discriminator.modules().OfType<NormalisedConv2d>().ToList();
        Assert.Equal(3, layers.Count);
        foreach (var layer in layers)
        {
            var largest = linalg.svdvals(layer.AppliedWeight().flatten(1)).max().item<float>();
            Assert.InRange(largest, 0.99, 1.01);
        }
        // Without it, DCGAN's N(0, 0.02²) weights have singular values far from 1.
        var plainLargest = plain.modules().OfType<NormalisedConv2d>().Select(l => linalg.svdvals(l.AppliedWeight().flatten(1)).max().item<float>());
        Assert.All(plainLargest, s => Assert.True(s < 0.9, $"a plain layer's largest singular value is {s}"));
    }

    [Fact]
    public void The_vae_loss_is_its_reconstruction_term_plus_beta_times_its_kl()
    {
        using var scope = NewDisposeScope();
        using var vae = new ConvVae(GeneratorConfig.Tiny(), seed: 1);
        var x = rand([3, 3, 8, 8], generator: new Generator(2)).Times(2).Minus(1);
        var epsilon = randn([3, 4], generator: new Generator(3));
        using var loss = vae.Loss(x, epsilon, beta: 2.5, sigma: 0.2);
        Assert.Equal(loss.Reconstruction.item<float>() + 2.5 * loss.Kl.item<float>(), loss.Loss.item<float>(), 2);
        Assert.True(loss.Kl.item<float>() >= 0);
        // ‖x − G(z)‖² / (2σ²) per image, from the per-pixel mean squared error.
        Assert.Equal(loss.MeanSquaredError.item<float>() * 3 * 8 * 8 / (2 * 0.2 * 0.2), loss.Reconstruction.item<float>(), 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => { vae.Loss(x, epsilon, beta: double.NaN, sigma: 0.2); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { vae.Loss(x, epsilon, beta: 1, sigma: 0); });
    }

    [Fact]
    public void Invalid_configurations_are_named()
    {
        var problems = new GeneratorConfig(ImageSize: 24, Channels: 2, LatentDimension: 0, Width: 1).Problems();
        Assert.Equal(3, problems.Count);
        Assert.Contains(problems, p => p.Contains("power of two", StringComparison.Ordinal));
        var error = Assert.Throws<ArgumentException>(() => new ConvGenerator(new GeneratorConfig(ImageSize: 12)));
        Assert.Contains("power of two", error.Message);
    }
}
