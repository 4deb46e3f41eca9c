using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using System.Net;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Saving is off the request path: with the store locked by another program (a second SQLite
/// connection holding BEGIN EXCLUSIVE), runs end and the lab page loads while their saves wait, the
/// runs are saved once the lock goes, and a save that keeps failing is reported on the run.
/// </summary>
public sealed class RunArchiveTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("archive-").FullName;

    string DatabaseFile => Path.Combine(folder, "runs.db");

    LabServer Server(int attempts) => new(DatabaseFile, settings: new Dictionary<string, string>
    {
        ["RunStore:BusyTimeoutSeconds"] = "1", // each try gives up after a second: the tries show on the run
        ["RunStore:SaveRetryDelayMs"] = "50",
        ["RunStore:SaveAttempts"] = attempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });

    /// <summary>Another program's write lock on the store's file, until disposed.</summary>
    SqliteConnection Lock()
    {
        var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "BEGIN EXCLUSIVE;";
        command.ExecuteNonQuery();
        return connection;
    }

    static async Task<LabRun> RunToTheEnd(LabServer server, HubConnection hub, int seed)
    {
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("seed=3", $"seed={seed}"));
        Assert.Empty(reply.Problems);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var last = default(RunFrame);
        await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", reply.RunId, timeout.Token)) last = frame;
        Assert.True(last!.IsFinal);
        var run = server.Runs.Find(reply.RunId!)!;
        Assert.True(SpinWait.SpinUntil(() => run.IsOver, TimeSpan.FromSeconds(30)));
        return run;
    }

    [Fact]
    public async Task With_the_store_locked_runs_end_and_the_lab_page_loads_and_the_runs_are_saved_once_the_lock_goes()
    {
        using var server = Server(attempts: 1000);
        await using var hub = server.HubConnection();
        await hub.StartAsync();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        LabRun first, second;
        using (Lock())
        {
            first = await RunToTheEnd(server, hub, 1);
            // A try has failed on the lock: the save is waiting on the store, and nothing else is.
            Assert.True(SpinWait.SpinUntil(() => first.Saving == SaveState.Retrying, TimeSpan.FromSeconds(60)), $"save state {first.Saving}");
            Assert.Contains("locked", first.SaveProblem);
            second = await RunToTheEnd(server, hub, 2); // a second run ends too, its save queued behind the first
            Assert.Contains(second.Saving, new[] { SaveState.Waiting, SaveState.Retrying });
            using var page = await http.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Null(server.Store.Get(first.Id)); // readers still read the locked file: nothing was written
        }

        Assert.True(SpinWait.SpinUntil(() => first.Saving == SaveState.Saved && second.Saving == SaveState.Saved, TimeSpan.FromSeconds(60)),
            $"save states {first.Saving}, {second.Saving}");
        Assert.NotNull(server.Store.Get(first.Id));
        Assert.NotNull(server.Store.Get(second.Id));
        Assert.Null(first.SaveProblem);
    }

    [Fact]
    public async Task A_save_that_keeps_failing_is_reported_on_the_run()
    {
        using var server = Server(attempts: 2);
        await using var hub = server.HubConnection();
        await hub.StartAsync();

        using (Lock())
        {
            var run = await RunToTheEnd(server, hub, 3);
            Assert.True(SpinWait.SpinUntil(() => run.Saving == SaveState.Failed, TimeSpan.FromSeconds(60)), $"save state {run.Saving}");
            Assert.Equal("the store is locked by another program", run.SaveProblem);
            Assert.Null(server.Store.Get(run.Id));
        }
    }

    [Fact]
    public void A_diversity_batch_is_saved_by_the_same_writer_and_a_save_that_keeps_failing_is_reported_on_it()
    {
        using var server = Server(attempts: 2);
        var batches = server.Services.GetRequiredService<DiversityService>();
        var spec = ExperimentSpec.Parse(LabServer.QuickSpec).Spec!;
        using (Lock())
        {
            var (job, refusal) = batches.Start(spec, 2, "archive-test", owner: LabServer.NewBrowser());
            Assert.True(job is not null, refusal);
            Assert.True(SpinWait.SpinUntil(() => job.Saving == SaveState.Failed, TimeSpan.FromSeconds(120)), $"{job.Status}, save state {job.Saving}");
            Assert.Equal("Finished", job.Status); // the batch itself finished; only saving it failed
            Assert.Equal("the store is locked by another program", job.SaveProblem);
            Assert.Equal("This batch could not be saved: the store is locked by another program. It stays on this page for now, but it will not be listed under Saved runs.",
                SaveNotes.Text(job.Saving, job.SaveProblem, "batch"));
            Assert.Null(server.Store.GetDiversity(job.Id));
        }

        var (saved, _) = batches.Start(spec, 2, "archive-test", owner: LabServer.NewBrowser());
        Assert.True(SpinWait.SpinUntil(() => saved!.IsSaved, TimeSpan.FromSeconds(120)), $"save state {saved!.Saving}");
        Assert.Equal(2, server.Store.GetDiversity(saved.Id)!.SamplePngs.Count);
    }

    [Fact]
    public async Task The_lab_page_says_when_its_run_could_not_be_saved()
    {
        using var server = Server(attempts: 2);
        using var playwright = await Playwright.CreateAsync();
        await using var chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFixture.ChromiumPath, Headless = true, Args = BrowserFixture.ChromiumArgs,
        });
        var page = await (await chromium.NewContextAsync(new BrowserNewContextOptions { BaseURL = server.BaseAddress.ToString() })).NewPageAsync();
        await page.GotoAsync("/?" + LabServer.QuickSpec);
        await LabBrowserTests.WaitForInteractiveAsync(page);

        using (Lock())
        {
            await page.ClickAsync("#run-button");
            var note = page.Locator("[data-testid=run-save][data-save=failed]");
            await Assertions.Expect(note).ToContainTextAsync("could not be saved: the store is locked by another program", new() { Timeout = 60_000 });
            await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "finished");
        }
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task A_run_that_finished_while_the_store_was_locked_survives_the_server_being_killed()
    {
        string id;
        using (var first = await LabProcess.StartAsync(DatabaseFile, "--RunStore:BusyTimeoutSeconds=1", "--RunStore:SaveRetryDelayMs=50", "--RunStore:SaveAttempts=1000"))
        using (Lock())
        {
            await using var hub = first.HubConnection();
            await hub.StartAsync();
            var reply = await hub.InvokeAsync<StartRunReply>("StartRun", LabServer.QuickSpec.Replace("seed=3", "seed=11"));
            Assert.Empty(reply.Problems);
            id = reply.RunId!;
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            var last = default(RunFrame);
            await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", id, timeout.Token)) last = frame;
            Assert.True(last!.IsFinal, first.Output);
            // The frames have ended, so the run is reported finished: it is on disk, not yet in the store.
            Assert.Single(Directory.EnumerateFiles(SaveSpool.FolderFor(DatabaseFile), "*.spool"));
            using var http = new HttpClient { BaseAddress = first.BaseAddress };
            Assert.DoesNotContain($"/runs/{id}\"", await http.GetStringAsync("/runs"));
            first.Kill(); // SIGKILL while the save waits on the lock: no shutdown, no last try
        }

        using var restarted = await LabProcess.StartAsync(DatabaseFile);
        using var client = new HttpClient { BaseAddress = restarted.BaseAddress };
        var listed = false;
        for (var deadline = DateTime.UtcNow.AddSeconds(60); !listed && DateTime.UtcNow < deadline; await Task.Delay(100))
            listed = (await client.GetStringAsync("/runs")).Contains($"href=\"/runs/{id}\"", StringComparison.Ordinal);
        Assert.True(listed, "the run the killed server had finished is not on /runs:\n" + restarted.Output);
        Assert.Contains("replay-scrubber", await client.GetStringAsync($"/runs/{id}"));
        Assert.Empty(Directory.EnumerateFiles(SaveSpool.FolderFor(DatabaseFile), "*.spool")); // saved, so its spool file went
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
