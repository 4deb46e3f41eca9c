using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using System.Diagnostics;

namespace DiffusionLab.Tests.Web;

/// <summary>The frame hub over MessagePack, driven by the SignalR .NET client against the app on Kestrel.</summary>
public sealed class RunHubTests(LabServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<LabServerFixture>
{
    LabServer Server => fixture.Server;

    [Fact]
    public async Task A_run_streams_ordered_frames_that_end_with_the_final_step()
    {
        await using var hub = Server.HubConnection();
        await hub.StartAsync();

        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);
        Assert.Empty(reply.Problems);
        Assert.NotNull(reply.RunId);

        var frames = new List<RunFrame>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", reply.RunId, timeout.Token))
            frames.Add(frame);

        Assert.NotEmpty(frames);
        Assert.True(frames.Select(f => f.Step).SequenceEqual(frames.Select(f => f.Step).Order().Distinct()), "steps arrive in increasing order, none twice");
        var last = frames[^1];
        Assert.True(last.IsFinal);
        Assert.Equal(20, last.Total);
        Assert.Equal(last.Total - 1, last.Step);
        Assert.All(frames, f => Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, f.X0Hat.Take(4)));
        Assert.True(double.IsFinite(last.Psnr));
        // The diffusion time crosses MessagePack with the rest: DPS walks t down to the data at t = 0.
        Assert.All(frames, f => Assert.InRange(f.T, 0, 1));
        Assert.Equal(0, last.T);

        var keyframes = await hub.InvokeAsync<List<RunFrame>>("Keyframes", reply.RunId);
        Assert.Equal(last.Step, keyframes[^1].Step);
        Assert.Equal(RunStatus.Finished, Server.Runs.Find(reply.RunId!)!.Status);

        using var http = new HttpClient { BaseAddress = Server.BaseAddress };
        using var result = await http.GetAsync($"runs/{reply.RunId}/result.png");
        Assert.Equal("image/png", result.Content.Headers.ContentType?.MediaType);
        using (var picture = SkiaSharp.SKBitmap.Decode(await result.Content.ReadAsByteArrayAsync()))
            Assert.Equal(32 * RunDownloads.Scale, picture.Width);
        var trajectory = await http.GetByteArrayAsync($"runs/{reply.RunId}/trajectory.png");
        Assert.Contains("acTL", System.Text.Encoding.ASCII.GetString(trajectory, 0, 200));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, (await http.GetAsync("runs/no-such-run/result.png")).StatusCode);
    }

    [Fact]
    public async Task Stop_cancels_a_running_run_at_its_next_step()
    {
        await using var hub = Server.HubConnection();
        await hub.StartAsync();
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("steps=20", "steps=1000"));
        Assert.NotNull(reply.RunId);
        var run = Server.Runs.Find(reply.RunId!)!;

        var frames = new List<RunFrame>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stopwatch = new Stopwatch();
        await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", reply.RunId, timeout.Token))
        {
            frames.Add(frame);
            if (frames.Count == 3)
            {
                stopwatch.Start();
                await hub.InvokeAsync("StopRun", reply.RunId);
            }
        }
        stopwatch.Stop();
        output.WriteLine($"Stop → stream closed: {stopwatch.Elapsed.TotalMilliseconds:0} ms (measured, not asserted)");

        Assert.Equal(RunStatus.Cancelled, run.Status);
        Assert.DoesNotContain(frames, f => f.IsFinal);
        Assert.True(frames[^1].Step < 999);
    }

    [Fact]
    public async Task A_closed_connection_stops_the_runs_it_started()
    {
        var hub = Server.HubConnection();
        await hub.StartAsync();
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("steps=20", "steps=1000"));
        var run = Server.Runs.Find(reply.RunId!)!;

        await hub.DisposeAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!run.IsOver) await Task.Delay(20, timeout.Token);
        Assert.Equal(RunStatus.Cancelled, run.Status);
    }

    [Fact]
    public async Task A_page_run_claimed_with_its_owner_key_stops_when_that_connection_closes_and_a_wrong_key_is_refused()
    {
        var (run, problems) = Server.Runs.Start(ExperimentSpec.Parse(LabServer.QuickSpec.Replace("steps=20", "steps=1000")).Spec!);
        Assert.Empty(problems);
        var player = Server.HubConnection();
        await player.StartAsync();

        await Assert.ThrowsAsync<HubException>(() => player.InvokeAsync("ClaimRun", run!.Id, "not-the-key"));
        await player.InvokeAsync("ClaimRun", run!.Id, run.OwnerKey);
        await player.DisposeAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!run.IsOver) await Task.Delay(20, timeout.Token);
        Assert.Equal(RunStatus.Cancelled, run.Status);
    }

    [Fact]
    public async Task Runs_beyond_the_cap_wait_in_a_queue_with_their_position_and_start_when_a_slot_frees()
    {
        await using var hub = Server.HubConnection();
        await hub.StartAsync();
        var longRun = LabServer.QuickSpec.Replace("steps=20", "steps=1000");
        var replies = new List<StartRunReply>();
        for (var i = 0; i < 3; i++) replies.Add(await hub.InvokeAsync<StartRunReply>("StartRun", longRun));
        var third = Server.Runs.Find(replies[2].RunId!)!;

        Assert.True(replies[2].QueuePosition >= 1, "the third run waits: the cap is two");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (Server.Runs.ActiveCount < 2) await Task.Delay(10, timeout.Token);
        Assert.Equal(RunStatus.Queued, third.Status);
        Assert.Equal(1, third.QueuePosition);

        await hub.InvokeAsync("StopRun", replies[0].RunId);
        while (third.Status == RunStatus.Queued) await Task.Delay(10, timeout.Token);
        Assert.True(Server.Runs.ActiveCount <= 2);
        foreach (var reply in replies) await hub.InvokeAsync("StopRun", reply.RunId);
        while (!third.IsOver) await Task.Delay(10, timeout.Token);
        Assert.Equal(RunStatus.Cancelled, third.Status);
    }

    [Fact]
    public async Task A_spec_with_problems_is_answered_with_the_problems_by_field()
    {
        await using var hub = Server.HubConnection();
        await hub.StartAsync();

        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("steps=20", "steps=0").Replace("sigmaY=0.05", "sigmaY=3"));

        Assert.Null(reply.RunId);
        Assert.Contains("steps", reply.Problems.Keys);
        Assert.Contains("sigmaY", reply.Problems.Keys);
    }

    [Fact]
    public async Task Another_connection_cannot_stop_a_run_it_did_not_start()
    {
        await using var owner = Server.HubConnection();
        await using var stranger = Server.HubConnection();
        await owner.StartAsync();
        await stranger.StartAsync();
        var reply = await owner.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);

        await Assert.ThrowsAsync<HubException>(() => stranger.InvokeAsync("StopRun", reply.RunId));
        await owner.InvokeAsync("StopRun", reply.RunId);
    }
}

/// <summary>One Kestrel-hosted lab shared by a test class.</summary>
public sealed class LabServerFixture : IDisposable
{
    public LabServer Server { get; } = new();

    public void Dispose() => Server.Dispose();
}
