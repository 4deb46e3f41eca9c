using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>Latest-wins delivery of a run's frames to its subscribers, with encoding off the solver's thread.</summary>
public sealed class LabRunDeliveryTests
{
    static StepRecord Raw(int step, int total)
    {
        var pixels = new PixelImage(3, 4, 4, Enumerable.Range(0, 48).Select(i => (i % 7) / 3.5f - 1).ToArray());
        return new StepRecord
        {
            Step = step, Total = total, Timestep = total - step, Xt = StepImage.Of(pixels), X0Hat = StepImage.Of(pixels),
            Residual = 1.0 / (step + 1), Psnr = 20 + step, Ssim = 0.5, ElapsedMs = step * 1000, IsFinal = step == total - 1,
        };
    }

    static LabRun StartedRun()
    {
        var run = new LabRun("r", ExperimentSpec.Default);
        run.MarkStarted();
        return run;
    }

    static async Task WaitUntilOverAsync(LabRun run)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!run.IsOver) await Task.Delay(5, timeout.Token);
    }

    [Fact]
    public async Task A_subscriber_that_reads_nothing_holds_one_frame_and_it_is_the_final_step()
    {
        var run = StartedRun();
        var frames = run.Subscribe(CancellationToken.None);

        for (var step = 0; step < 300; step++) run.Offer(Raw(step, 300), isKeyframe: false);
        run.Finish(RunStatus.Finished);
        // Encoding happens on its own task: read only once it has sent everything, so the
        // subscriber really has read nothing while frames were produced.
        for (var waited = 0; !run.IsOver && waited < 10_000; waited += 5) await Task.Delay(5);

        var received = new List<StepRecord>();
        await foreach (var frame in frames.ReadAllAsync()) received.Add(frame);
        var only = Assert.Single(received);
        Assert.True(only.IsFinal);
        Assert.Equal(299, only.Step);
        Assert.Equal(RunStatus.Finished, run.Status);
    }

    [Fact]
    public async Task A_slow_subscriber_gets_increasing_steps_ending_with_the_final_one()
    {
        var run = StartedRun();
        var frames = run.Subscribe(CancellationToken.None);
        var reader = Task.Run(async () =>
        {
            var steps = new List<int>();
            await foreach (var frame in frames.ReadAllAsync())
            {
                steps.Add(frame.Step);
                await Task.Delay(3);
            }
            return steps;
        });

        for (var step = 0; step < 200; step++)
        {
            run.Offer(Raw(step, 200), isKeyframe: step % 50 == 0);
            if (step % 20 == 0) await Task.Delay(2);
        }
        run.Finish(RunStatus.Finished);
        var steps = await reader;

        Assert.Equal(steps.Order().Distinct(), steps);
        Assert.Equal(199, steps[^1]);
    }

    [Fact]
    public async Task After_the_run_a_new_subscriber_gets_the_final_frame_and_every_keyframe_is_stored_in_order()
    {
        var run = StartedRun();
        for (var step = 0; step < 30; step++) run.Offer(Raw(step, 30), isKeyframe: step % 10 == 0 || step == 29);
        run.Finish(RunStatus.Finished);
        await WaitUntilOverAsync(run);

        var frames = run.Subscribe(CancellationToken.None);
        Assert.True(frames.TryRead(out var first));
        Assert.True(first!.IsFinal);
        await frames.Completion;
        Assert.Equal([0, 10, 20, 29], run.KeyframesSnapshot().Select(f => f.Step));
        Assert.Equal(Enumerable.Range(0, 30), run.MetricsSnapshot().Select(p => p.Step));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, first.Xt!.Png.Take(4));
    }

    [Fact]
    public async Task A_run_stopped_before_it_started_ends_at_once()
    {
        var run = new LabRun("q", ExperimentSpec.Default);
        var frames = run.Subscribe(CancellationToken.None);

        run.Finish(RunStatus.Cancelled);

        await frames.Completion;
        Assert.Equal(RunStatus.Cancelled, run.Status);
    }
}
