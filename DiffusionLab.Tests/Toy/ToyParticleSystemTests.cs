using DiffusionLab.Engine.Toy;

namespace DiffusionLab.Tests.Toy;

/// <summary>A sequential Monte Carlo sampler in the plane: the cloud is one weighted particle system.</summary>
public class ToyParticleSystemTests
{
    static readonly ToyMeasurement Line = new(ToyMeasurementKind.Line, 1, -2, 0.5, 0.3);

    [Fact]
    public void Tds_runs_the_lab_cloud_as_one_system_with_visible_weights_and_ess_and_ends_near_the_posterior()
    {
        var spec = ToySpec.ForPreset("two-clusters", "tds", Line) with { Particles = 500, Steps = 80, Seed = 4 };
        Assert.True(spec.IsParticleSystem);
        Assert.Empty(spec.Validate());
        using var run = ToyRunner.Prepare(spec);
        var frames = ToyRunner.Run(run).ToList();
        Assert.Equal(80, frames.Count);
        Assert.All(frames, f =>
        {
            Assert.Equal(1000, f.Positions.Length);              // the lab's 500 particles are the system's particles
            Assert.Equal(500, f.Weights!.Length);
            Assert.Equal(500, f.Weights.Sum(w => (double)w), 1); // weights times N average 1
            Assert.InRange(f.Ess!.Value, 1, 500 + 1e-6);
        });
        Assert.Contains(frames, f => f.Weights!.Max() > 1.5f);   // along the way some particles carry more than others
        Assert.All(frames[^1].Weights!, w => Assert.Equal(1f, w, 5)); // the final cloud is the system resampled
        double end = frames[^1].Distance!.Value;
        Assert.True(end < 0.5 * run.PriorFloor!.Value, $"final distance {end} against the floor of samples that ignore y, {run.PriorFloor}");
    }

    [Fact]
    public void Other_samplers_carry_no_weights()
    {
        var spec = ToySpec.ForPreset("two-clusters", "dps", Line) with { Particles = 50, Steps = 10 };
        Assert.False(spec.IsParticleSystem);
        using var run = ToyRunner.Prepare(spec);
        Assert.All(ToyRunner.Run(run), f => Assert.True(f.Weights is null && f.Ess is null));
    }
}
