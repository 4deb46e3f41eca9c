using DiffusionLab.Engine;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using System.Collections.Immutable;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Runs;

public class RunnerTests
{
    static readonly Runner Runner = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    static ExperimentSpec Spec(string corruption, string solver, int steps, int seed = 3) => new ExperimentSpec
    {
        Prior = PriorCatalog.ImageDemoId,
        Image = "sample:5",
        Corruption = corruption,
        Solver = solver,
        Steps = steps,
        Seed = seed,
    }.WithDefaults();

    static List<(StepRecord Step, float[] X0Hat)> RunAll(ExperimentSpec spec)
    {
        using var run = Runner.Prepare(spec);
        return Runner.Run(run).Select(step => (step, step.X0Hat!.Pixels!.Values)).ToList();
    }

    [Fact]
    public void A_run_reports_ordered_steps_ending_in_the_final_one()
    {
        var steps = RunAll(Spec("box-inpainting", "dps", 12));
        Assert.Equal(12, steps.Count);
        Assert.Equal(Enumerable.Range(0, 12), steps.Select(s => s.Step.Step));
        Assert.True(steps[^1].Step.IsFinal);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Step.Psnr) && double.IsFinite(s.Step.Residual)));
        Assert.True(steps[^1].Step.NetworkEvaluations >= 12);
    }

    [Fact]
    public void The_same_spec_reproduces_the_same_result_and_another_seed_does_not()
    {
        var a = RunAll(Spec("gaussian-blur", "ddpm", 8))[^1].X0Hat;
        var b = RunAll(Spec("gaussian-blur", "ddpm", 8))[^1].X0Hat;
        var c = RunAll(Spec("gaussian-blur", "ddpm", 8, seed: 4))[^1].X0Hat;
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void Every_solver_sees_the_same_measurement()
    {
        using var dps = Runner.Prepare(Spec("random-inpainting", "dps", 5));
        using var hqs = Runner.Prepare(Spec("random-inpainting", "hqs", 5));
        Assert.True(dps.Y.eq(hqs.Y).all().item<bool>());
        Assert.True(dps.GroundTruth.eq(hqs.GroundTruth).all().item<bool>());
    }

    [Fact]
    public void Every_corruption_runs_with_every_solver_or_is_refused_in_words()
    {
        foreach (var op in OperatorCatalog.All)
            foreach (var solver in SolverCatalog.All)
            {
                var spec = Spec(op.Id, solver.Id, 2);
                if (solver.RefusalOf(op) is not null)
                {
                    var refused = Assert.Throws<SpecException>(() => Runner.Prepare(spec));
                    Assert.Contains(refused.Problems, p => p.Field == "solver");
                    continue;
                }
                var steps = RunAll(spec);
                Assert.True(steps.Count >= 1, $"{op.Id} × {solver.Id} gave no steps");
                Assert.True(steps[^1].Step.IsFinal, $"{op.Id} × {solver.Id} did not end on its final step");
                Assert.All(steps[^1].X0Hat, v => Assert.True(float.IsFinite(v), $"{op.Id} × {solver.Id} produced a non-finite pixel"));
            }
    }

    [Fact]
    public void Problems_are_reported_before_anything_runs()
    {
        var spec = Spec("box-inpainting", "dps", 10) with { Image = "gallery:does-not-exist", SigmaY = 5 };
        var e = Assert.Throws<SpecException>(() => Runner.Prepare(spec));
        Assert.Contains(e.Problems, p => p.Field == "sigmaY");
        var missing = Assert.Throws<SpecException>(() => Runner.Prepare(spec with { SigmaY = 0.05 }));
        Assert.Contains(missing.Problems, p => p.Field == "image");
    }

    [Fact]
    public void Long_runs_through_the_run_core_leave_no_live_tensors_behind()
    {
        // The lab's path (one sample), the diversity path (per-sample noise, the summary) and a run
        // stopped part-way: everything a step makes is copied out or disposed before the next.
        using var run = Runner.Prepare(Spec("gaussian-blur", "dps", 300));
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        int steps = Runner.Run(run).Count();
        steps += Runner.RunSamples(run, 4).Count();
        foreach (var step in Runner.Run(run))
            if (++steps > 700) break;
        Assert.True(steps > 700, $"only {steps} steps ran");
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void Cancellation_stops_between_steps()
    {
        using var run = Runner.Prepare(Spec("denoise", "ddpm", 50));
        using var cts = new CancellationTokenSource();
        int seen = 0;
        Assert.ThrowsAny<OperationCanceledException>(() =>
        {
            foreach (var step in Runner.Run(run, cts.Token))
                if (++seen == 3) cts.Cancel();
        });
        Assert.Equal(3, seen);
    }
}
