using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Tests.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Benchmarks;

public sealed class GeneratorComparisonTests
{
    [Fact]
    public void The_data_row_is_the_heldout_sets_other_half_and_each_set_follows_it()
    {
        using var scope = NewDisposeScope();
        var heldout = rand([40, 3, 8, 8], generator: new Generator(1)).Times(2).Minus(1);
        var training = rand([30, 3, 8, 8], generator: new Generator(2)).Times(2).Minus(1);
        using var generator = new ConvGenerator(GeneratorConfig.Tiny());
        generator.eval();
        var samples = GeneratorComparison.Sample(generator, 20, seed: 3);
        Assert.Equal(new long[] { 20, 3, 8, 8 }, samples.shape);
        Assert.True(samples.eq(GeneratorComparison.Sample(generator, 20, seed: 3)).all().item<bool>(), "the same seed gave other samples");
        var rows = GeneratorComparison.Properties(heldout, training, [new("copies", heldout.narrow(0, 0, 20)), new("generator", samples)]);
        Assert.Equal(new[] { "data", "copies", "generator" }, rows.Select(r => r.Name));
        Assert.Equal(20, rows[0].Count);
        // The reference is the first half, so its own copies are inside its manifold and its recall is complete.
        Assert.Equal(1.0, rows[1].Properties.Precision);
        Assert.Equal(1.0, rows[1].Properties.Recall);
        // An untrained DCGAN generator makes near-grey images: far blurrier and less varied than noise-like data.
        Assert.True(rows[2].Properties.Sharpness < 0.1 && rows[2].Properties.Diversity < 0.5, rows[2].Properties.ToString());
    }

    [Fact]
    public void Diffusion_samples_come_from_the_unconditional_sampler_in_chunks()
    {
        using var scope = NewDisposeScope();
        var prior = new IsotropicGaussianPrior([3, 4, 4], 0.1);
        var samples = GeneratorComparison.Sample(prior, new Ddim(0), 200, 70, seed: 1);
        Assert.Equal(new long[] { 70, 3, 4, 4 }, samples.shape);
        // Samples of N(0, 0.1 I) (clamped to [-1, 1]): their variance is near 0.1.
        Assert.InRange(samples.var().item<float>(), 0.07, 0.13);
    }

    [Fact]
    public void Every_solver_solves_the_same_corrupted_images_and_is_scored_on_them()
    {
        using var scope = NewDisposeScope();
        var prior = new IsotropicGaussianPrior([3, 8, 8], 0.3);
        var images = rand([4, 3, 8, 8], generator: new Generator(5)).Times(1.2).Minus(0.6);
        var rows = GeneratorComparison.SolveHeldout(prior, images, ["denoise", "box-inpainting"], ["hqs", "dps"], sigmaY: 0.05,
            corruptionParameters: new Dictionary<string, IReadOnlyDictionary<string, double>> { ["box-inpainting"] = new Dictionary<string, double> { ["box-size"] = 4 } });
        Assert.Equal(new[] { ("denoise", "hqs"), ("denoise", "dps"), ("box-inpainting", "hqs"), ("box-inpainting", "dps") }, rows.Select(r => (r.Corruption, r.Solver)));
        Assert.All(rows, r => Assert.True(double.IsFinite(r.Psnr) && r.Psnr > 5 && r.Ssim is > -1 and <= 1 && r.Images == 4, r.ToString()));
        // Denoising at σ_y = 0.05 leaves an image close to the truth; a 4 × 4 hole in an 8 × 8 image does not.
        Assert.True(rows[0].Psnr > rows[2].Psnr, $"{rows[0]} vs {rows[2]}");
    }
}
