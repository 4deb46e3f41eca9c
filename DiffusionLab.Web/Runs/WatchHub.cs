using DiffusionLab.Web.Features.Shared;
using Microsoft.AspNetCore.SignalR;
using System.Collections.Concurrent;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// /hubs/watch: someone else's run, live, for anyone with its link (but a run on an uploaded
/// image only for the browser that uploaded it). It has no method that starts,
/// stops or changes a run. A watcher joins the run's group and gets the frames so far (the
/// keyframes and the latest frame); after that the <see cref="WatchRelay"/> sends each new frame
/// to the group as "Frame", and "Ended" with the final status. A frame may arrive both in the
/// snapshot and live; clients keep the one with the higher step.
/// </summary>
public sealed class WatchHub(ILiveRuns runs, WatchRelay relay, LabCatalog catalog) : Hub
{
    public static string Group(string runId) => "watch:" + runId;

    public async Task<WatchSnapshot> Watch(string runId)
    {
        var run = runs.Find(runId ?? "") ?? throw new HubException("There is no live run with this id. It may have ended a while ago: look for it under Saved runs.");
        if (!ClassroomPage.MayShow(run, BrowserIdentity.Sent(Context.GetHttpContext()))) throw new HubException(ClassroomPage.PrivateRunMessage);
        await Groups.AddToGroupAsync(Context.ConnectionId, Group(run.Id));
        relay.Relay(run);
        var frames = run.KeyframesSnapshot().ToList();
        if (run.Latest is { } latest && (frames.Count == 0 || frames[^1].Step < latest.Step)) frames.Add(latest);
        return new WatchSnapshot
        {
            RunId = run.Id,
            Spec = run.Spec.ToQueryString(),
            Title = $"{catalog.FindSolver(run.Spec.Solver)?.DisplayName ?? run.Spec.Solver} on {catalog.FindOperator(run.Spec.Corruption)?.DisplayName ?? run.Spec.Corruption} · {run.Spec.Prior}",
            Status = run.Status.ToString(),
            GroundTruth = run.GroundTruthPng ?? [],
            Measurement = run.MeasurementPng ?? [],
            Frames = [.. frames.Select(RunFrame.From)],
        };
    }
}

/// <summary>What a watcher gets on joining.</summary>
public sealed class WatchSnapshot
{
    public string RunId { get; init; } = "";
    public string Spec { get; init; } = "";
    /// <summary>The run in words: "Diffusion posterior sampling (DPS) on Box inpainting · pixel-faces-32".</summary>
    public string Title { get; init; } = "";
    public string Status { get; init; } = "";
    public byte[] GroundTruth { get; init; } = [];
    public byte[] Measurement { get; init; } = [];
    public RunFrame[] Frames { get; init; } = [];
}

/// <summary>
/// One relay per watched run: reads the run's frames (latest wins, so a slow group never holds the
/// run back) and sends them to the run's group until the run ends.
/// </summary>
public sealed class WatchRelay(IHubContext<WatchHub> hub, ILogger<WatchRelay> logger)
{
    readonly ConcurrentDictionary<string, Task> relays = new();

    public void Relay(LabRun run) => relays.GetOrAdd(run.Id, _ => Task.Run(() => Forward(run)));

    async Task Forward(LabRun run)
    {
        var group = hub.Clients.Group(WatchHub.Group(run.Id));
        try
        {
            await foreach (var frame in run.Subscribe(CancellationToken.None).ReadAllAsync())
                await group.SendAsync("Frame", RunFrame.From(frame));
            await group.SendAsync("Ended", run.Status.ToString(), run.Error);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Watch relay of run {RunId} stopped", run.Id);
        }
        finally
        {
            _ = Task.Delay(TimeSpan.FromMinutes(1)).ContinueWith(_ => relays.TryRemove(run.Id, out Task? _));
        }
    }
}
