using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

/// <summary>The models/ folder of the repository: both bundled priors are there and load through their cards.</summary>
public class BundledModelTests
{
    [Theory]
    [InlineData("pixel-faces-32")]
    [InlineData("emoji-32")]
    public void A_bundled_prior_loads_within_its_size_limit_and_predicts_finite_noise(string name)
    {
        var catalog = ModelCatalog.FindDefault();
        var entry = catalog.List().SingleOrDefault(e => e.Name == name);
        Assert.True(entry is not null, $"models/{name}.json is missing from {catalog.Folder}");
        Assert.Null(entry.Problem);
        Assert.True(new FileInfo(Path.Combine(catalog.Folder, entry.Card!.WeightsFile)).Length <= 25L * 1024 * 1024, "a bundled model must stay within 25 MB");
        // The card reports the held-out loss at the four noise levels the README quotes.
        Assert.Equal(["250", "50", "500", "750"], entry.Card.HeldoutLoss.Keys.Order());
        Assert.NotNull(entry.Card.Dataset);

        using var scope = NewDisposeScope();
        using var model = catalog.Load(name);
        Assert.Equal(new long[] { 3, 32, 32 }, model.SampleShape);
        using var _ = no_grad();
        var eps = model.PredictNoise(randn(2, 3, 32, 32, generator: new Generator(1)), tensor(new long[] { 100, 900 }));
        Assert.True(eps.isfinite().all().item<bool>());
        Assert.True(eps.abs().mean().item<float>() > 0.1, "a trained prior predicts noise of roughly unit size at large t");
    }
}

/// <summary>
/// Issue 3's acceptance test: DPS with the bundled prior, run through the Runner exactly as the lab
/// runs it, recovers a held-out face better than the measurement's own back-projection.
/// </summary>
public class BundledModelDpsTests
{
    static readonly DiffusionLab.Engine.Runs.Runner Runner =
        new(PriorCatalog.ForContentRoot(DiffusionLab.Engine.ContentRoot.Find()));

    [Theory]
    [InlineData("box-inpainting", 3.0)]
    [InlineData("super-resolution", 1.0)]
    public void Dps_beats_the_back_projection_on_a_held_out_face(string corruption, double marginDb)
    {
        var spec = new DiffusionLab.Engine.Runs.ExperimentSpec
        {
            Prior = "pixel-faces-32",
            Image = "gallery:" + Runner.Priors.Gallery("pixel-faces-32")[1],
            Corruption = corruption,
            Solver = "dps",
            Steps = 150,
            Seed = 11,
        };
        using var run = Runner.Prepare(spec);
        double backProjectionPsnr = DiffusionLab.Engine.Imaging.ImageMetrics.Psnr(run.BackProjection, run.GroundTruth)[0];
        double finalPsnr = double.NaN;
        foreach (var step in Runner.Run(run))
            if (step.IsFinal) finalPsnr = step.Psnr;
        Assert.True(finalPsnr > backProjectionPsnr + marginDb,
            $"{corruption}: DPS reached {finalPsnr:0.0} dB, the back-projection {backProjectionPsnr:0.0} dB");
    }
}
