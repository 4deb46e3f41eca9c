using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

public sealed class CsgmTests : IDisposable
{
    readonly ConvGenerator generator = TinyGenerator();

    public void Dispose() => generator.Dispose();

    /// <summary>
    /// A tiny 8 × 8 generator whose batch norms have seen a few batches, frozen in eval mode as a bundled one is
    /// loaded. Its last layer is scaled up so that its images span the pixel range as a trained one's do
    /// (DCGAN's initial weights make every image nearly grey).
    /// </summary>
    static ConvGenerator TinyGenerator()
    {
        var generator = new ConvGenerator(GeneratorConfig.Tiny(), "tiny", seed: 4);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            generator.named_parameters().Single(p => p.name == "to_image.weight").parameter.TimesInPlace(40);
            for (int i = 0; i < 20; i++) generator.call(randn([32, 4], generator: new Generator((ulong)i)));
        }
        generator.eval();
        foreach (var parameter in generator.parameters()) parameter.requires_grad_(false);
        return generator;
    }

    Csgm Solver(int restarts = 3, double learningRate = 0.05) => new("csgm-test", "CSGM (test)", () => generator, restarts, learningRate, latentWeight: 1);

    /// <summary>Runs CSGM on y = A(G(z*)) + noise and returns every step's residual and objective of sample 0.</summary>
    List<(double Residual, double Objective)> Run(IMeasurement measurement, int steps, long batch = 1, int restarts = 3)
    {
        using var scope = NewDisposeScope();
        var truth = generator.call(randn([1, 4], generator: new Generator(77)));
        var noise = NoiseModel.Gaussian(0.02);
        var y = noise.Apply(measurement.Forward(truth), new Generator(5)).expand([batch, .. measurement.OutputShape]);
        var context = new SolverContext(new IsotropicGaussianPrior([3, 8, 8], 1), measurement, y, noise, steps, batch, new Generator(9));
        var seen = new List<(double, double)>();
        foreach (var step in Solver(restarts).Solve(context))
        {
            Assert.Equal(new long[] { batch, 3, 8, 8 }, step.X0Hat.shape);
            Assert.Same(step.Xt, step.X0Hat);
            Assert.Equal(-1, step.Timestep);
            Assert.Equal(batch, step.Residual.Length);
            seen.Add((step.Residual[0], step.Objective![0]));
        }
        return seen;
    }

    [Fact]
    public void Csgm_on_a_tiny_generator_lowers_the_residual_of_an_inpainting()
    {
        using var measurement = new BoxInpainting([3, 8, 8], 4, BoxPlacement.Centre);
        var steps = Run(measurement, 120);
        Assert.Equal(120, steps.Count);
        Assert.True(steps[^1].Residual < 0.3 * steps[0].Residual, $"the residual went from {steps[0].Residual:F3} to only {steps[^1].Residual:F3}");
        Assert.True(steps[^1].Objective < steps[0].Objective);
    }

    [Fact]
    public void Csgm_needs_only_autograd_so_a_nonlinear_corruption_is_solved_too()
    {
        var steps = Run(new SquaringMeasurement([3, 8, 8]), 120);
        Assert.True(steps[^1].Residual < 0.5 * steps[0].Residual, $"the residual went from {steps[0].Residual:F3} to only {steps[^1].Residual:F3}");
    }

    [Fact]
    public void More_starts_never_begin_worse_and_each_sample_of_a_batch_has_its_own()
    {
        using var measurement = new Denoise([3, 8, 8]);
        // The best of eight random starts has an objective no higher than the best of one would on the same first draw…
        var one = Run(measurement, 1, restarts: 1);
        var eight = Run(measurement, 1, restarts: 8);
        Assert.True(eight[0].Objective <= one[0].Objective, $"best of 8 starts {eight[0].Objective:F2} > the first start's {one[0].Objective:F2}");
        // …and a batch of two runs gets two answers from different starts.
        using var scope = NewDisposeScope();
        var y = generator.call(randn([1, 4], generator: new Generator(1))).expand(2, 3, 8, 8);
        var context = new SolverContext(new IsotropicGaussianPrior([3, 8, 8], 1), measurement, y, NoiseModel.Gaussian(0.05), 3, 2, new Generator(2));
        var last = Solver().Solve(context).Select(s => s.X0Hat.clone()).ToList()[^1];
        Assert.False(last[0].allclose(last[1]), "two samples of one batch gave the same image");
    }

    [Fact]
    public void With_per_sample_noise_sample_k_of_a_batch_finds_what_its_run_alone_finds()
    {
        // Sample k's random starts come from sample k's stream, so the diversity page's sample k is
        // the lab run with seed k (up to the float rounding of a batched generator call).
        using var measurement = new BoxInpainting([3, 8, 8], 4, BoxPlacement.Centre);
        float[] Final(ulong[] seeds)
        {
            using var scope = NewDisposeScope();
            var y = generator.call(randn([1, 4], generator: new Generator(3))).expand(seeds.Length, 3, 8, 8);
            using var source = NoiseSource.PerSample(seeds);
            var context = new SolverContext(new IsotropicGaussianPrior([3, 8, 8], 1), measurement, y, NoiseModel.Gaussian(0.05), 20, seeds.Length, source);
            return Solver().Solve(context).Select(s => s.X0Hat.clone()).ToList()[^1].data<float>().ToArray();
        }
        var together = Final([5, 6, 7]);
        int size = 3 * 8 * 8;
        for (int k = 0; k < 3; k++)
        {
            var alone = Final([5UL + (ulong)k]);
            var worst = alone.Zip(together.Skip(size * k).Take(size), (a, b) => Math.Abs(a - b)).Max();
            Assert.True(worst < 1e-4, $"sample {k} of the batch differs from its run alone by {worst}");
        }
        Assert.NotEqual(together[..size], together[size..(2 * size)]);
    }

    [Fact]
    public void A_generator_of_another_size_or_a_missing_one_is_refused_in_words()
    {
        using var scope = NewDisposeScope();
        var measurement = new Denoise([3, 16, 16]);
        var context = new SolverContext(new IsotropicGaussianPrior([3, 16, 16], 1), measurement, zeros(1, 3, 16, 16), NoiseModel.Gaussian(0.05), 5, 1, new Generator(1));
        var size = Assert.Throws<SolverException>(() => Solver().Solve(context).First());
        Assert.Contains("8×8", size.Message);
        Assert.Contains("16×16", size.Message);
        var missing = new Csgm("csgm-x", "CSGM with X", () => throw new CheckpointException("models/x.json: the model card is missing"), 2, 0.05, 1);
        var error = Assert.Throws<SolverException>(() => missing.Solve(context).First());
        Assert.Contains("CSGM with X cannot load its generator", error.Message);
        var unconditional = context with { Measurement = null, Y = null };
        Assert.Throws<SolverException>(() => Solver().Solve(unconditional).First());
    }

    [Fact]
    public void The_catalog_offers_csgm_with_the_vae_and_the_gan_for_every_corruption()
    {
        foreach (var id in new[] { "csgm-vae", "csgm-gan" })
        {
            var descriptor = SolverCatalog.Find(id)!;
            Assert.Equal(SolverFamily.Generator, descriptor.Family);
            Assert.False(descriptor.NeedsLinearOperator);
            var defaults = descriptor.DefaultsFor("box-inpainting");
            Assert.All(descriptor.Parameters, p => Assert.Null(p.Validate(defaults[p.Key])));
            var solver = Assert.IsType<Csgm>(descriptor.Create(defaults));
            Assert.Equal(id, solver.Id);
            Assert.Equal(4, solver.Restarts);
        }
    }
}
