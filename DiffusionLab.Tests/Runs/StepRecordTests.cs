using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Runs;

/// <summary>A step is one type from the run core to the wire, and the wire frame is made from it in one place.</summary>
public class StepRecordTests
{
    static readonly Runner Runner = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    /// <summary>What the browser's player reads: these names must not change.</summary>
    static readonly string[] WireNames =
        ["Step", "Total", "Timestep", "T", "Mime", "Xt", "X0Hat", "Residual", "Psnr", "Ssim", "ElapsedMs", "IsFinal", "NetworkEvaluations", "Ess"];

    static List<StepRecord> Steps(string solver, int steps)
    {
        var spec = new ExperimentSpec { Prior = PriorCatalog.ImageDemoId, Image = "sample:2", Corruption = "box-inpainting", Solver = solver, Steps = steps, Seed = 1 };
        using var run = Runner.Prepare(spec);
        return Runner.Run(run).ToList();
    }

    [Fact]
    public void The_wire_frame_has_the_players_names_and_each_is_the_steps_field_of_that_name()
    {
        Assert.Equal(WireNames.Order(), typeof(RunFrame).GetProperties().Select(p => p.Name).Order());
        var step = Steps("ddim", 4)[^1];
        var frame = RunFrame.From(step);
        foreach (var name in WireNames.Except(["Mime", "Xt", "X0Hat"]))
            Assert.Equal(typeof(StepRecord).GetProperty(name)!.GetValue(step), typeof(RunFrame).GetProperty(name)!.GetValue(frame));
        Assert.Equal(FrameEncoder.Mime, frame.Mime);
        Assert.Equal(step.Xt!.Png, frame.Xt);
        Assert.Equal(step.X0Hat!.Png, frame.X0Hat);
        Assert.Equal((3, 4, true), (frame.Step, frame.Total, frame.IsFinal));
    }

    [Fact]
    public void Every_step_has_its_diffusion_time_and_a_classical_solver_has_none()
    {
        var ddpm = Steps("ddpm", 20);
        Assert.All(ddpm, s => Assert.Equal(s.Timestep / 1000.0, s.T));
        Assert.True(ddpm[0].T > 0.9, $"the first step is near pure noise, t = {ddpm[0].T}");
        Assert.Equal(ddpm.Select(s => s.T).OrderDescending(), ddpm.Select(s => s.T));
        Assert.Equal(0, ddpm[^1].T);
        Assert.Equal(ddpm[5].T, RunFrame.From(ddpm[5]).T);

        var hqs = Steps("hqs", 3);
        Assert.All(hqs, s => Assert.True(double.IsNaN(s.T)));
        Assert.True(double.IsNaN(RunFrame.From(hqs[^1]).T));
    }

    [Fact]
    public void A_step_carries_managed_copies_that_encode_once_and_a_kept_step_holds_only_its_png()
    {
        var steps = Steps("dps", 5);
        var last = steps[^1];
        Assert.Equal(Enumerable.Range(0, 5), steps.Select(s => s.Step));
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Psnr) && double.IsFinite(s.Residual) && s.ElapsedMs >= 0));
        Assert.Equal([3, 32, 32], new[] { last.X0Hat!.Pixels!.Channels, last.X0Hat.Pixels.Height, last.X0Hat.Pixels.Width });
        Assert.Same(last.X0Hat.Png, last.X0Hat.Png); // encoded once, then kept
        Assert.Equal(FrameEncoder.Encode(last.X0Hat.Pixels), last.X0Hat.Png);

        var kept = last.Encoded();
        Assert.Null(kept.X0Hat!.Pixels);
        Assert.Equal(last.X0Hat.Png, kept.X0Hat.Png);
        Assert.Equal(last with { Xt = null, X0Hat = null }, kept.WithoutImages());
        Assert.Null(last.WithoutImages().Xt);
    }
}
