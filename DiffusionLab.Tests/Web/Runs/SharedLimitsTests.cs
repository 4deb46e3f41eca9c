using DiffusionLab.Engine.Toy;
using DiffusionLab.Web;
using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using System.Net;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The bounds a shared classroom server keeps: cached and limited 2-D pictures, frame streams per
/// connection, trajectory animations built once, and per-browser rate limits answered with a
/// message. The server here has small limits so that a few requests reach them; each test is its
/// own browser (its own cookie), so their allowances do not mix.
/// </summary>
public sealed class SharedLimitsTests(SharedLimitsTests.Fixture fixture) : IClassFixture<SharedLimitsTests.Fixture>
{
    public sealed class Fixture : IDisposable
    {
        public LabServer Server { get; } = new("", maxConcurrentRuns: 2, new Dictionary<string, string>
        {
            ["Limits:DownloadsPerMinute"] = "3",
            ["Limits:RunStartsPerMinute"] = "3",
            ["Limits:FrameStreamsPerConnection"] = "2",
            ["Limits:PictureSlots"] = "1",
            ["Limits:PictureQueue"] = "0",
            ["Limits:PictureBurst"] = "3",
            ["Limits:PicturesPerSecond"] = "0.01", // one more every 100 s: within a test, the burst is all there is
            ["Limits:PictureWaitsPerConnection"] = "0",
        });

        public void Dispose() => Server.Dispose();
    }

    LabServer Server => fixture.Server;

    static string NewBrowser() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    HubConnection Connect(string path, string browser) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(Server.BaseAddress, path), options => options.Headers["Cookie"] = $"{BrowserIdentity.CookieName}={browser}")
            .AddMessagePackProtocol()
            .Build();

    HttpClient Http(string browser)
    {
        var http = new HttpClient { BaseAddress = Server.BaseAddress };
        http.DefaultRequestHeaders.Add("Cookie", $"{BrowserIdentity.CookieName}={browser}");
        return http;
    }

    /// <summary>Starts a run as <paramref name="browser"/> and waits until it is over.</summary>
    async Task<LabRun> FinishedRun(string browser)
    {
        await using var hub = Connect("hubs/runs", browser);
        await hub.StartAsync();
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);
        Assert.Empty(reply.Problems);
        var run = Server.Runs.Find(reply.RunId!)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var _ in hub.StreamAsync<RunFrame>("Frames", run.Id, timeout.Token)) { }
        while (!run.IsOver) await Task.Delay(10, timeout.Token);
        return run;
    }

    static string Spec(long seed, ToyMeasurement? measurement = null) =>
        (ToySpec.ForPreset("ring", "dps", measurement ?? new ToyMeasurement(ToyMeasurementKind.ObserveX1, Y: 1.5)) with { Particles = 200, Seed = seed }).ToJson();

    [Fact]
    public async Task The_same_picture_asked_again_comes_from_the_cache_without_computing()
    {
        var pictures = Server.Services.GetRequiredService<ToyPictures>();
        var spec = Spec(101);
        await using (var hub = Connect("hubs/toy", NewBrowser()))
        {
            await hub.StartAsync();
            var before = pictures.Computed;
            var first = await hub.InvokeAsync<ToyScene>("Scene", spec, 0.3);
            var again = await hub.InvokeAsync<ToyScene>("Scene", spec, 0.3);
            Assert.Empty(first.Problems);
            Assert.Equal(before + 1, pictures.Computed);
            Assert.Equal(first.Density, again.Density);
            Assert.Equal(first.Data, again.Data);
            // Another t is another picture.
            var later = await hub.InvokeAsync<ToyScene>("Scene", spec, 0.6);
            Assert.Equal(before + 2, pictures.Computed);
            Assert.NotEqual(first.Density, later.Density);
        }
        await using (var other = Connect("hubs/toy", NewBrowser()))
        {
            await other.StartAsync();
            var before = pictures.Computed;
            var marginal = await other.InvokeAsync<ToyMarginal>("Marginal", spec, 0.5);
            var same = await other.InvokeAsync<ToyMarginal>("Marginal", spec, 0.5);
            Assert.Empty(marginal.Problems);
            Assert.Equal(before + 1, pictures.Computed);
            Assert.Equal(marginal.Density, same.Density);
        }
    }

    [Fact]
    public async Task With_every_drawing_slot_taken_a_picture_is_answered_busy_in_words()
    {
        var pictures = Server.Services.GetRequiredService<ToyPictures>();
        await using var hub = Connect("hubs/toy", NewBrowser());
        await hub.StartAsync();
        using (var taken = await pictures.Slots.AcquireAsync(1)) // as a computation for someone else would
        {
            Assert.True(taken.IsAcquired);
            var scene = await hub.InvokeAsync<ToyScene>("Scene", Spec(202), 0.0);
            Assert.Equal(new[] { ToyPictures.Busy }, scene.Problems);
            Assert.Empty(scene.Density);
            var marginal = await hub.InvokeAsync<ToyMarginal>("Marginal", Spec(202), 0.4);
            Assert.Equal(new[] { ToyPictures.Busy }, marginal.Problems);
        }
        var drawn = await hub.InvokeAsync<ToyScene>("Scene", Spec(202), 0.0);
        Assert.Empty(drawn.Problems);
        Assert.NotEmpty(drawn.Density);
    }

    [Fact]
    public async Task A_connection_asking_faster_than_its_pace_is_told_so_and_others_are_not()
    {
        await using var hub = Connect("hubs/toy", NewBrowser());
        await hub.StartAsync();
        var spec = Spec(303);
        for (var i = 0; i < 3; i++) // the burst, answered from the cache after the first
            Assert.Empty((await hub.InvokeAsync<ToyScene>("Scene", spec, 0.0)).Problems);
        var refused = await hub.InvokeAsync<ToyScene>("Scene", spec, 0.0);
        Assert.Equal(new[] { ToyPictures.TooFast }, refused.Problems);

        await using var other = Connect("hubs/toy", NewBrowser());
        await other.StartAsync();
        Assert.Empty((await other.InvokeAsync<ToyScene>("Scene", spec, 0.0)).Problems);
    }

    [Fact]
    public async Task A_connection_may_follow_only_so_many_frame_streams_at_once()
    {
        var browser = NewBrowser();
        await using var hub = Connect("hubs/runs", browser);
        await hub.StartAsync();
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("steps=20", "steps=1000"));
        Assert.Empty(reply.Problems);
        var run = Server.Runs.Find(reply.RunId!)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var open = new List<IAsyncEnumerator<RunFrame>>();
        for (var i = 0; i < 2; i++)
        {
            var stream = hub.StreamAsync<RunFrame>("Frames", run.Id, timeout.Token).GetAsyncEnumerator(timeout.Token);
            Assert.True(await stream.MoveNextAsync(), "the stream is open and sends frames");
            open.Add(stream);
        }
        var third = hub.StreamAsync<RunFrame>("Frames", run.Id, timeout.Token).GetAsyncEnumerator(timeout.Token);
        var refusal = await Assert.ThrowsAsync<HubException>(async () => await third.MoveNextAsync());
        Assert.Contains("already follows 2 runs' frames", refusal.Message);

        // Another page (another connection) has its own allowance.
        await using (var watcher = Connect("hubs/runs", NewBrowser()))
        {
            await watcher.StartAsync();
            var theirs = watcher.StreamAsync<RunFrame>("Frames", run.Id, timeout.Token).GetAsyncEnumerator(timeout.Token);
            Assert.True(await theirs.MoveNextAsync());
            await theirs.DisposeAsync();
        }

        // Streams that end give their place back.
        await hub.InvokeAsync("StopRun", run.Id);
        foreach (var stream in open)
        {
            while (await stream.MoveNextAsync()) { }
            await stream.DisposeAsync();
        }
        while (!run.IsOver) await Task.Delay(10, timeout.Token);
        for (var i = 0; i < 3; i++)
            await foreach (var _ in hub.StreamAsync<RunFrame>("Frames", run.Id, timeout.Token)) { }
    }

    [Fact]
    public async Task A_runs_trajectory_is_built_once_however_often_it_is_downloaded()
    {
        var browser = NewBrowser();
        var run = await FinishedRun(browser);
        var trajectories = Server.Services.GetRequiredService<TrajectoryCache>();
        using var http = Http(browser);
        var before = trajectories.Builds;
        var first = await http.GetByteArrayAsync($"runs/{run.Id}/trajectory.png");
        var again = await http.GetByteArrayAsync($"runs/{run.Id}/trajectory.png");
        Assert.Contains("acTL", System.Text.Encoding.ASCII.GetString(first, 0, 200));
        Assert.Equal(first, again);
        Assert.Equal(before + 1, trajectories.Builds);
    }

    [Fact]
    public async Task Downloads_past_a_browsers_allowance_get_429_with_a_message_and_other_browsers_do_not()
    {
        var browser = NewBrowser();
        var run = await FinishedRun(browser);
        using var http = Http(browser);
        for (var i = 0; i < 3; i++)
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"runs/{run.Id}/result.png")).StatusCode);
        using var refused = await http.GetAsync($"runs/{run.Id}/trajectory.png");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("wait", await refused.Content.ReadAsStringAsync());
        Assert.True(refused.Headers.RetryAfter?.Delta > TimeSpan.Zero, "Retry-After says when to come back");

        using var other = Http(NewBrowser());
        Assert.Equal(HttpStatusCode.OK, (await other.GetAsync($"runs/{run.Id}/result.png")).StatusCode);
    }

    [Fact]
    public async Task Run_starts_past_a_browsers_allowance_are_answered_with_a_message()
    {
        await using var hub = Connect("hubs/runs", NewBrowser());
        await hub.StartAsync();
        var started = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);
            Assert.Empty(reply.Problems);
            started.Add(reply.RunId!);
        }
        var refused = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);
        Assert.Null(refused.RunId);
        Assert.Contains("wait", refused.Problems["run"]);
        foreach (var id in started) await hub.InvokeAsync("StopRun", id);

        await using var other = Connect("hubs/runs", NewBrowser());
        await other.StartAsync();
        var theirs = await other.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec);
        Assert.Empty(theirs.Problems);
        await other.InvokeAsync("StopRun", theirs.RunId);
    }

    [Fact]
    public async Task Memory_is_handed_back_after_runs_end_and_not_while_nothing_happens()
    {
        var memory = Server.Services.GetRequiredService<MemoryReturn>();
        var before = memory.Returns;
        await FinishedRun(NewBrowser());
        using var timeout = new CancellationTokenSource(MemoryReturn.Period * 4);
        while (memory.Returns == before) await Task.Delay(50, timeout.Token); // its next look after the run ended
        var after = memory.Returns;
        memory.ReturnIfWorkEnded(); // nothing ended since: nothing to hand back
        Assert.Equal(after, memory.Returns);
    }
}
