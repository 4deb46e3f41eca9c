using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;

namespace DiffusionLab.Tests.Web;

/// <summary>Several clients on one server: batched runs, watch links and saved runs across a restart.</summary>
public sealed class ClassroomHubTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("classroom-").FullName;

    static string Spec(int seed, int steps = 20) => LabServer.QuickSpec.Replace("seed=3", $"seed={seed}").Replace("steps=20", $"steps={steps}");

    static async Task<List<RunFrame>> RunToTheEnd(HubConnection hub, string spec)
    {
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", spec);
        Assert.Empty(reply.Problems);
        var frames = new List<RunFrame>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", reply.RunId, timeout.Token)) frames.Add(frame);
        return frames;
    }

    /// <summary>The final PSNR of a spec run alone, in this process, without the server or its scheduler.</summary>
    static double AloneFinalPsnr(string spec)
    {
        var runner = new Runner(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        using var prepared = runner.Prepare(ExperimentSpec.Parse(spec).Spec!);
        var psnr = double.NaN;
        foreach (var step in runner.Run(prepared)) psnr = step.Psnr;
        return psnr;
    }

    [Fact]
    public async Task Two_clients_at_once_each_get_their_own_frames_and_the_results_of_running_alone()
    {
        using var server = new LabServer(Path.Combine(folder, "runs.db"));
        await using var first = server.HubConnection();
        await using var second = server.HubConnection();
        await Task.WhenAll(first.StartAsync(), second.StartAsync());

        var both = await Task.WhenAll(RunToTheEnd(first, Spec(11)), RunToTheEnd(second, Spec(12)));

        var expected = new[] { AloneFinalPsnr(Spec(11)), AloneFinalPsnr(Spec(12)) };
        Assert.NotEqual(expected[0], expected[1], 3); // different seeds, different answers: the check below can tell runs apart
        for (int i = 0; i < 2; i++)
        {
            var frames = both[i];
            Assert.True(frames[^1].IsFinal);
            Assert.True(frames.Select(f => f.Step).SequenceEqual(frames.Select(f => f.Step).Order().Distinct()), "one run's steps, in order, none twice");
            // Float tolerance: batched with the other run, the network sees a batch of two.
            Assert.Equal(expected[i], frames[^1].Psnr, 3);
        }
    }

    [Fact]
    public async Task A_watcher_joining_midway_gets_the_earlier_frames_then_live_ones()
    {
        using var server = new LabServer(Path.Combine(folder, "runs.db"));
        await using var owner = server.HubConnection();
        await owner.StartAsync();
        await using var watcher = server.HubConnection("hubs/watch");
        var live = new List<RunFrame>();
        var ended = new TaskCompletionSource<string>();
        watcher.On<RunFrame>("Frame", frame => { lock (live) live.Add(frame); });
        watcher.On<string, string?>("Ended", (status, _) => ended.TrySetResult(status));

        var reply = await owner.InvokeAsync<StartRunReply>("StartRun", Spec(5, steps: 400));
        var run = server.Runs.Find(reply.RunId!)!;
        // Hold the run once it has sent step 40 until the watcher has joined, so that a fast machine
        // cannot finish it first.
        WatchSnapshot snapshot;
        using (var hold = new RunHold(run, 40))
        {
            Assert.True(SpinWait.SpinUntil(() => hold.IsHeld || run.IsOver, TimeSpan.FromSeconds(60)), "the run never reached step 40");
            Assert.False(run.IsOver, "the run ended before the test could hold it");
            await watcher.StartAsync();
            snapshot = await watcher.InvokeAsync<WatchSnapshot>("Watch", reply.RunId);
            Assert.False(run.IsOver, "the run is held, so it is still going when the watcher joins");
        }

        Assert.Equal(0, snapshot.Frames[0].Step);
        var seen = snapshot.Frames[^1].Step;
        Assert.True(seen >= 40, $"the snapshot reaches the step the run had reached ({seen})");
        Assert.Equal("Finished", await ended.Task.WaitAsync(TimeSpan.FromSeconds(120)));
        lock (live)
        {
            Assert.Contains(live, f => f.Step > seen);
            Assert.True(live[^1].IsFinal);
        }
        Assert.NotEmpty(snapshot.GroundTruth);

        // The watch hub offers nothing that changes a run.
        await Assert.ThrowsAnyAsync<Exception>(() => watcher.InvokeAsync("StopRun", reply.RunId));
        await Assert.ThrowsAnyAsync<Exception>(() => watcher.InvokeAsync<StartRunReply>("StartRun", Spec(1)));
    }

    [Fact]
    public async Task A_server_process_killed_outright_still_lists_its_finished_runs_when_started_again()
    {
        var database = Path.Combine(folder, "runs.db");
        string id;
        using (var first = await LabProcess.StartAsync(database))
        {
            await using var hub = first.HubConnection();
            await hub.StartAsync();
            var frames = await RunToTheEnd(hub, Spec(7));
            Assert.True(frames[^1].IsFinal);
            // The run is saved once its last frame is out; wait until the saved-runs page lists it.
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            id = "";
            for (var deadline = DateTime.UtcNow.AddSeconds(20); id == "" && DateTime.UtcNow < deadline; await Task.Delay(100))
                id = SavedRunIds(await http.GetStringAsync("/runs")).FirstOrDefault() ?? "";
            Assert.True(id != "", "the finished run never appeared on /runs:\n" + first.Output);
            first.Kill(); // SIGKILL, with the hub connection still open: no shutdown, no checkpoint
        }

        using var restarted = await LabProcess.StartAsync(database);
        using var client = new HttpClient { BaseAddress = restarted.BaseAddress };
        // The pages read the store: /runs lists the run, /runs/{id} replays it, a bad id is a plain page.
        Assert.Equal([id], SavedRunIds(await client.GetStringAsync("/runs")));
        var replay = await client.GetStringAsync($"/runs/{id}");
        Assert.Contains("replay-scrubber", replay);
        Assert.Contains("No saved run here", await client.GetStringAsync("/runs/%27%3B--"));
    }

    static IReadOnlyList<string> SavedRunIds(string runsPage) =>
        System.Text.RegularExpressions.Regex.Matches(runsPage, "href=\"/runs/([A-Za-z0-9_-]+)\"").Select(m => m.Groups[1].Value).Distinct().ToList();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
