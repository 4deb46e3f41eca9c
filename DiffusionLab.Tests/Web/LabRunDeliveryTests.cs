using DiffusionLab.Engine.Experiments;
using DiffusionLab.Web.Services;

namespace DiffusionLab.Tests.Web;

/// <summary>Latest-wins delivery of a run's frames to its subscribers.</summary>
public sealed class LabRunDeliveryTests
{
    static RunFrame Frame(int step, int total) => new() { Step = step, Total = total, IsFinal = step == total - 1 };

    static void PublishAll(LabRun run, int total)
    {
        for (var step = 0; step < total; step++)
            run.Publish(Frame(step, total), new MetricPoint(step, 1, 20, 0.5, step), isKeyframe: false, TimeSpan.Zero);
    }

    [Fact]
    public async Task A_subscriber_that_reads_nothing_holds_one_frame_and_still_receives_the_final_step()
    {
        var run = new LabRun("r1", ExperimentSpec.Default, null);
        var frames = run.Subscribe(CancellationToken.None);

        PublishAll(run, 500);
        run.Finish(RunStatus.Finished);

        var received = new List<RunFrame>();
        await foreach (var frame in frames.ReadAllAsync()) received.Add(frame);
        var only = Assert.Single(received);
        Assert.True(only.IsFinal);
        Assert.Equal(499, only.Step);
    }

    [Fact]
    public async Task A_late_subscriber_first_gets_the_latest_frame()
    {
        var run = new LabRun("r2", ExperimentSpec.Default, null);
        PublishAll(run, 10);

        var frames = run.Subscribe(CancellationToken.None);

        Assert.True(frames.TryRead(out var first));
        Assert.Equal(9, first!.Step);
        run.Finish(RunStatus.Finished);
        await frames.Completion;
    }

    [Fact]
    public void Metrics_and_keyframes_keep_every_step_they_were_given()
    {
        var run = new LabRun("r3", ExperimentSpec.Default, null);
        for (var step = 0; step < 30; step++)
            run.Publish(Frame(step, 30), new MetricPoint(step, 1, 20, 0.5, step), isKeyframe: step % 10 == 0 || step == 29, TimeSpan.FromMilliseconds(1));

        Assert.Equal(Enumerable.Range(0, 30), run.MetricsSnapshot().Select(p => p.Step));
        Assert.Equal([0, 10, 20, 29], run.KeyframesSnapshot().Select(f => f.Step));
        Assert.Equal(30, run.Timings().FramesProduced);
    }
}
