using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using System.Collections.Immutable;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Runs;

public class PosteriorSamplesTests
{
    static readonly Runner Runner = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    static ExperimentSpec Spec(string solver, string prior = PriorCatalog.ImageDemoId, string image = "sample:0") =>
        new() { Prior = prior, Image = image, Corruption = "box-inpainting", Solver = solver, Steps = 15, Seed = 4 };

    /// <summary>The final step of a batch: every sample's x̂0 clipped as it is shown [N, C, H, W], the mean and std maps, the PSNR of the mean.</summary>
    static (Tensor Samples, Tensor Mean, Tensor Std, double Psnr) Final(string solver, int count, RunScheduler? scheduler = null)
    {
        using var prepared = Runner.Prepare(Spec(solver));
        var last = Runner.RunSamples(prepared, count, default, scheduler).Last();
        Assert.True(last.First.IsFinal);
        var summary = last.Summary!;
        var samples = cat(last.Samples.Select(s => s.X0Hat!.Pixels!.ToTensor()).ToArray(), 0).clamp(-1, 1);
        return (samples, summary.Mean.ToTensor()[0], summary.Std.ToTensor()[0], summary.MeanPsnr);
    }

    /// <summary>The final x̂0 of every sample of a diversity batch, and of the lab run of each sample's seed alone.</summary>
    static (float[][] Batch, float[][] Alone) BatchAndAlone(ExperimentSpec spec, int count)
    {
        float[][] batch;
        using (var prepared = Runner.Prepare(spec))
            batch = Runner.RunSamples(prepared, count).Last().Samples.Select(s => s.X0Hat!.Pixels!.Values).ToArray();
        var alone = Enumerable.Range(0, count).Select(k =>
        {
            using var prepared = Runner.Prepare(spec with { SampleSeed = spec.FirstSampleSeed + k });
            return Runner.Run(prepared).Last().X0Hat!.Pixels!.Values;
        }).ToArray();
        return (batch, alone);
    }

    static double Worst(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    [Theory]
    [InlineData("dps")]
    [InlineData("ddpm")]
    [InlineData("score-ald")]
    [InlineData("diffpir")]
    [InlineData("ddrm")]
    [InlineData("pigdm")]
    public void Diversity_sample_k_is_exactly_the_lab_run_with_sample_seed_k(string solver)
    {
        // Each sample draws from its own stream and the mixture prior's arithmetic is per sample, so
        // the batch is bit for bit the lab's runs side by side.
        var spec = Spec(solver) with { SolverParameters = solver == "score-ald" ? ImmutableSortedDictionary.CreateRange(new Dictionary<string, double> { ["levels"] = 5 }) : Spec(solver).SolverParameters };
        var (batch, alone) = BatchAndAlone(spec, 3);
        for (int k = 0; k < 3; k++)
            Assert.True(Worst(batch[k], alone[k]) == 0, $"{solver}: sample {k} differs from the lab run with sample seed {4 + k} by {Worst(batch[k], alone[k])}");
        Assert.NotEqual(batch[0], batch[1]);
        // Sample 0 is the lab run of the very link the diversity page was opened with.
        using var prepared = Runner.Prepare(spec);
        Assert.Equal(alone[0], Runner.Run(prepared).Last().X0Hat!.Pixels!.Values);
    }

    [Fact]
    public void On_a_unet_diversity_sample_k_matches_the_lab_run_with_sample_seed_k_to_float_rounding()
    {
        // The noise is the same bit for bit, but the UNet's convolutions of a batch of three are blocked
        // differently from a batch of one, which changes the last bits of every step: measured here,
        // 15 DPS steps on the bundled faces UNet end 3e-7 to 9e-7 apart. The tolerance is the run
        // scheduler's for the same cause (1e-4), a hundred times that and a thousand times below what
        // separates two sample seeds.
        var spec = Spec("dps", "pixel-faces-32", "gallery:" + Runner.Priors.Gallery("pixel-faces-32")[0]);
        var (batch, alone) = BatchAndAlone(spec, 3);
        var apart = Worst(alone[0], alone[1]);
        for (int k = 0; k < 3; k++)
            Assert.True(Worst(batch[k], alone[k]) < 1e-4, $"sample {k} differs from its lab run by {Worst(batch[k], alone[k])} (two samples differ by {apart})");
        Assert.True(apart > 0.1, $"different sample seeds should give different images ({apart})");
    }

    [Fact]
    public void DiffusionSamplesDifferAndTheStdMapIsTheirPerPixelSpread()
    {
        var (samples, mean, std, psnr) = Final("dps", 4);
        Assert.Equal([4L, 3, 32, 32], samples.shape);
        // Closed forms of the summaries, computed independently from the samples.
        var expectedMean = samples.sum([0]) / 4;
        var expectedStd = ((samples - expectedMean).square().sum([0]) / 4).sqrt();
        var meanError = (mean - expectedMean).abs().max().item<float>();
        var stdError = (std - expectedStd).abs().max().item<float>();
        Assert.True(meanError < 1e-5 && stdError < 1e-4, $"mean off by {meanError}, std off by {stdError}");
        Assert.True(std.max().item<float>() > 0.01f, "diffusion samples should disagree somewhere");
        Assert.True(double.IsFinite(psnr));
    }

    [Fact]
    public void AClassicalSolverGivesOneAnswerForEverySeed()
    {
        var (samples, _, std, _) = Final("hqs", 4);
        Assert.Equal(0f, std.max().item<float>());
        Assert.Equal(samples[0].data<float>().ToArray(), samples[3].data<float>().ToArray());
    }

    [Fact]
    public void MoreThanSixteenSamplesIsRefusedInWords()
    {
        var e = Assert.Throws<DiffusionLab.Engine.Solvers.SolverException>(() => Final("dps", 17));
        Assert.Contains("between 1 and 16", e.Message);
    }
}
