using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Toy;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Per-browser shares of one server, over real SignalR connections (MessagePack) to the app on
/// Kestrel: a cap on each browser's running and waiting work across the lab, diversity and the 2-D
/// lab, a queue that serves browsers in turn, and hubs that start nothing for a connection without
/// the browser cookie.
/// </summary>
public sealed class FairShareTests : IDisposable
{
    const string LongRun = "prior=gmm-image&image=sample%3A0&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=1000&seed=3";
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    readonly LabServer server = new("", maxConcurrentRuns: 1, new Dictionary<string, string> { ["Lab:MaxRunsPerBrowser"] = "3" });

    public void Dispose() => server.Dispose();

    async Task<HubConnection> ConnectAsync(string browser, string path = "hubs/runs")
    {
        var hub = server.HubConnection(path, browser);
        await hub.StartAsync();
        return hub;
    }

    static async Task WaitUntil(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(Patience);
        while (!condition()) await Task.Delay(10, timeout.Token);
    }

    [Fact]
    public async Task A_browser_past_its_cap_is_told_to_stop_one_or_wait_while_another_browser_still_starts()
    {
        var a = LabServer.NewBrowser();
        await using var first = await ConnectAsync(a);
        await using var second = await ConnectAsync(a); // the same browser in another tab
        var started = new List<StartRunReply>();
        for (var i = 0; i < 3; i++) started.Add(await (i == 1 ? second : first).InvokeAsync<StartRunReply>("StartRun", LongRun));
        Assert.All(started, reply => Assert.NotNull(reply.RunId));

        var refused = await second.InvokeAsync<StartRunReply>("StartRun", LongRun);
        Assert.Null(refused.RunId);
        Assert.Contains("You have 3 runs going", refused.Problems["run"]);
        Assert.Contains("stop one or wait", refused.Problems["run"]);

        await using var other = await ConnectAsync(LabServer.NewBrowser());
        Assert.NotNull((await other.InvokeAsync<StartRunReply>("StartRun", LongRun)).RunId);

        // Stopping one gives its place back once it has ended.
        await first.InvokeAsync("StopRun", started[0].RunId);
        var stopped = server.Runs.Find(started[0].RunId!)!;
        await WaitUntil(() => stopped.IsOver);
        Assert.NotNull((await second.InvokeAsync<StartRunReply>("StartRun", LongRun)).RunId);
    }

    [Fact]
    public async Task The_queue_serves_browsers_in_turn_so_one_browsers_single_run_starts_before_anothers_fourth()
    {
        using var roomy = new LabServer("", maxConcurrentRuns: 1, new Dictionary<string, string> { ["Lab:MaxRunsPerBrowser"] = "10" });
        await using var a = roomy.HubConnection();
        await using var b = roomy.HubConnection();
        await a.StartAsync();
        await b.StartAsync();
        var mine = new List<LabRun>();
        for (var i = 0; i < 4; i++) mine.Add(roomy.Runs.Find((await a.InvokeAsync<StartRunReply>("StartRun", LongRun)).RunId!)!);
        using var timeout = new CancellationTokenSource(Patience);
        while (mine[0].Status == RunStatus.Queued) await Task.Delay(10, timeout.Token);

        var reply = await b.InvokeAsync<StartRunReply>("StartRun", LongRun);
        var theirs = roomy.Runs.Find(reply.RunId!)!;
        Assert.Equal(1, reply.QueuePosition); // ahead of A's second, third and fourth
        Assert.Equal([2, 3, 4], mine.Skip(1).Select(r => r.QueuePosition));

        await a.InvokeAsync("StopRun", mine[0].Id);
        while (theirs.Status == RunStatus.Queued) await Task.Delay(10, timeout.Token);
        Assert.Equal(RunStatus.Queued, mine[1].Status);
        Assert.Equal(1, mine[1].QueuePosition);

        foreach (var run in mine) await a.InvokeAsync("StopRun", run.Id);
        await b.InvokeAsync("StopRun", theirs.Id);
    }

    [Fact]
    public async Task A_connection_without_the_browser_cookie_starts_nothing_and_is_told_why()
    {
        await using var anonymous = await ConnectAsync("");
        var reply = await anonymous.InvokeAsync<StartRunReply>("StartRun", LongRun);
        Assert.Null(reply.RunId);
        Assert.Contains("browser cookie", reply.Problems["browser"]);

        await using var toy = await ConnectAsync("", "hubs/toy");
        var spec = ToySpec.ForPreset("grid", "ddpm", ToyMeasurement.None) with { Particles = 50 };
        var refusal = await Assert.ThrowsAsync<HubException>(async () =>
        {
            await foreach (var _ in toy.StreamAsync<ToyRunFrame>("Run", spec.ToJson())) { }
        });
        Assert.Contains("browser cookie", refusal.Message);
        Assert.Equal(0, server.Services.GetRequiredService<ToyRuns>().ActiveCount);
    }

    [Fact]
    public async Task The_cap_counts_lab_runs_diversity_batches_and_2d_runs_together()
    {
        var browser = LabServer.NewBrowser();
        await using var runs = await ConnectAsync(browser);
        var lab = await runs.InvokeAsync<StartRunReply>("StartRun", LongRun);
        Assert.NotNull(lab.RunId);

        var diversity = server.Services.GetRequiredService<DiversityService>();
        var (batch, _) = diversity.Start(ExperimentSpec.Parse(LongRun).Spec!, 4, "diversity-test", owner: browser);
        Assert.NotNull(batch);

        var toyRuns = server.Services.GetRequiredService<ToyRuns>();
        toyRuns.Paced = true; // a paced run lasts seconds: it is still going when the next one asks
        await using var toy = await ConnectAsync(browser, "hubs/toy");
        var spec = ToySpec.ForPreset("grid", "ddpm", ToyMeasurement.None) with { Particles = 50 };
        using var stopToy = new CancellationTokenSource();
        var frames = toy.StreamAsync<ToyRunFrame>("Run", spec.ToJson(), stopToy.Token).GetAsyncEnumerator();
        Assert.True(await frames.MoveNextAsync(), "the third piece of work starts");

        // The fourth, of any kind, is refused with the same advice.
        var (refusedBatch, refusal) = diversity.Start(ExperimentSpec.Parse(LongRun).Spec!, 4, "diversity-test", owner: browser);
        Assert.Null(refusedBatch);
        Assert.Contains("You have 3 runs going", refusal);
        var toyRefusal = await Assert.ThrowsAsync<HubException>(async () =>
        {
            await foreach (var _ in toy.StreamAsync<ToyRunFrame>("Run", spec.ToJson())) { }
        });
        Assert.Contains("You have 3 runs going", toyRefusal.Message);
        Assert.Contains("You have 3 runs going", (await runs.InvokeAsync<StartRunReply>("StartRun", LongRun)).Problems["run"]);

        // A stopped batch leaves the line and gives its place back.
        batch!.Cancel();
        await WaitUntil(() => batch.IsOver);
        Assert.Equal("Cancelled", batch.Status);
        var (again, _) = diversity.Start(ExperimentSpec.Parse(LongRun).Spec!, 4, "diversity-test", owner: browser);
        Assert.NotNull(again);
        again!.Cancel();
        stopToy.Cancel();
        await frames.DisposeAsync();
        await runs.InvokeAsync("StopRun", lab.RunId);
    }
}
