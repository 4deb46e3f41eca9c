using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>ScoreALD walks a geometric ladder of noise levels by default, as Jalal et al.'s code does.</summary>
public class ScoreAldLevelsTests
{
    static double Sigma(NoiseSchedule schedule, int t) => Math.Sqrt((1 - schedule.AlphaBar(t)) / schedule.AlphaBar(t));

    [Fact]
    public void The_geometric_ladder_runs_from_the_largest_to_the_smallest_level_in_equal_ratios()
    {
        var schedule = NoiseSchedule.Linear(1000);
        var levels = Timesteps.GeometricInSigma(schedule, 100);
        Assert.Equal(999, levels[0]);
        Assert.Equal(0, levels[^1]);
        for (int i = 1; i < levels.Length; i++) Assert.True(levels[i] <= levels[i - 1]);
        // The ideal ratio between neighbours is (σ_min/σ_max)^(1/99); where the schedule is fine enough each mapped level is within half a timestep of it.
        double ratio = Math.Pow(Sigma(schedule, 0) / Sigma(schedule, 999), 1 / 99.0);
        for (int i = 1; i < 60; i++)
        {
            double ideal = Sigma(schedule, 999) * Math.Pow(ratio, i);
            int t = levels[i];
            Assert.True(Sigma(schedule, Math.Max(t - 1, 0)) <= ideal * 1.0001 && ideal <= Sigma(schedule, Math.Min(t + 1, 999)) * 1.0001, $"level {i}");
        }
        // About half the levels lie above σ = 1 (log σ runs from +5.1 to −4.6), against 74 % with even timesteps.
        double above = levels.Count(t => Sigma(schedule, t) > 1) / 100.0;
        double evenAbove = Timesteps.Respace(1000, 100).Count(t => Sigma(schedule, t) > 1) / 100.0;
        Assert.InRange(above, 0.45, 0.6);
        Assert.True(evenAbove > 0.7);
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(1, false)]
    public void The_catalog_solver_visits_the_ladder_its_spacing_names(int spacing, bool geometric)
    {
        using var scope = NewDisposeScope();
        var prior = GaussianMixturePresets.ImageDemo();
        var descriptor = SolverCatalog.Find("score-ald")!;
        var parameters = new Dictionary<string, double>(descriptor.DefaultsFor("denoise")) { ["levels"] = 20, ["stepsPerLevel"] = 1, ["spacing"] = spacing };
        var a = new Denoise(prior.SampleShape);
        var y = zeros([1, .. prior.SampleShape]);
        var visited = SolverRun.Steps(descriptor.Create(parameters), new RunProblem(prior, a, y, NoiseModel.Gaussian(0.05)), 20, 1, RunSeeds.ForSamples(0, 1))
            .Select(step => step.Timestep).ToArray();
        var expected = geometric ? Timesteps.GeometricInSigma(prior.Schedule, 20) : Timesteps.Respace(prior.Schedule.TrainingSteps, 20);
        Assert.Equal(expected, visited);
    }

    [Fact]
    public void A_link_without_a_spacing_gets_the_geometric_ladder()
    {
        var spec = ExperimentSpec.Parse("op=denoise&solver=score-ald").Spec!.WithDefaults();
        Assert.Equal(0, spec.SolverParameters["spacing"]);
    }
}
