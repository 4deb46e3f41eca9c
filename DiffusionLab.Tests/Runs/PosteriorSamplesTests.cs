using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;
using DiffusionLab.Engine;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Tests.Runs;

public class PosteriorSamplesTests
{
    static (Tensor Samples, Tensor Mean, Tensor Std, double Psnr) Final(string solver, int count, RunScheduler? scheduler = null)
    {
        var runner = new Runner(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        var spec = new ExperimentSpec { Prior = PriorCatalog.ImageDemoId, Image = "sample:0", Corruption = "box-inpainting", Solver = solver, Steps = 15, Seed = 4 };
        using var prepared = runner.Prepare(spec);
        SamplesProgress? last = null;
        foreach (var progress in PosteriorSamples.Run(prepared, count, default, scheduler))
        {
            last?.Dispose();
            last = progress;
        }
        Assert.True(last!.IsFinal);
        return (last.Samples, last.Mean!, last.Std!, last.MeanPsnr);
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
