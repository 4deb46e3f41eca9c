using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// /hubs/runs (MessagePack): streams a run's frames to the browser's frame player, serves the
/// keyframes of a live or a saved run for its scrubber, and lets a client (a script, a test)
/// start and stop runs of its own. A
/// connection owns the runs it started and those it claimed with their owner key (the lab
/// page's player does, so that closing the tab, which closes this connection at once, stops
/// the page's run); owned runs stop when the connection closes.
/// </summary>
public sealed class RunHub(RunService runs) : Hub
{
    static readonly ConcurrentDictionary<string, ConcurrentBag<string>> RunsByConnection = new();

    public StartRunReply StartRun(string specQuery)
    {
        var parsed = ExperimentSpec.Parse(specQuery);
        if (parsed.Spec is null || parsed.Problems.Count > 0)
            return new StartRunReply { Problems = ToDictionary(parsed.Problems) };
        // Work counts against a browser's share, so a connection that names no browser could start without limit.
        if (BrowserIdentity.Sent(Context.GetHttpContext()) is not { } browser)
            return new StartRunReply { Problems = new() { ["browser"] = BrowserIdentity.MissingMessage } };
        var (run, problems) = runs.Start(parsed.Spec, client: Context.ConnectionId, owner: browser);
        if (run is null) return new StartRunReply { Problems = ToDictionary(problems) };
        Own(run.Id);
        return new StartRunReply { RunId = run.Id, QueuePosition = run.QueuePosition };
    }

    /// <summary>Takes ownership of a run whose owner key this client was given (the lab page's own run).</summary>
    public void ClaimRun(string runId, string ownerKey)
    {
        var run = runs.Find(runId ?? "");
        if (run is null || !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(run.OwnerKey), System.Text.Encoding.UTF8.GetBytes(ownerKey ?? "")))
            throw new HubException("This run cannot be claimed with that key.");
        Own(run.Id);
    }

    /// <summary>The run's frames from the latest one on, fewest-but-newest for a slow client; always ends with the final step.</summary>
    public IAsyncEnumerable<RunFrame> Frames(string runId, CancellationToken cancellation)
    {
        var run = runs.Find(runId ?? "") ?? throw new HubException("There is no run with this id (it may have ended long ago).");
        return Frames(run.Subscribe(cancellation));
    }

    /// <summary>A run's steps as wire frames, one by one as the client takes them (the subscription keeps only the newest).</summary>
    static async IAsyncEnumerable<RunFrame> Frames(ChannelReader<StepRecord> steps)
    {
        await foreach (var step in steps.ReadAllAsync()) yield return RunFrame.From(step);
    }

    /// <summary>Every stored keyframe of a run, for the scrubber.</summary>
    public RunFrame[] Keyframes(string runId) =>
        runs.Find(runId ?? "")?.KeyframesSnapshot().Select(RunFrame.From).ToArray() ?? throw new HubException("There is no run with this id.");

    /// <summary>
    /// A saved run for its replay page, from the store: the keyframes (the same frames a live run
    /// sends), y and x0. A run on an image another browser uploaded is not shown, as on the page.
    /// </summary>
    public ReplaySnapshot SavedRun(string runId, RunStore store)
    {
        var run = store.Get(runId);
        if (run is null || !ClassroomPage.MayShow(run.SpecQuery, run.Owner, BrowserIdentity.Sent(Context.GetHttpContext())))
            throw new HubException("There is no saved run with this id.");
        return new ReplaySnapshot { Frames = [.. run.Keyframes.Select(RunFrame.From)], Measurement = run.MeasurementPng ?? [], GroundTruth = run.GroundTruthPng ?? [] };
    }

    public void StopRun(string runId)
    {
        var run = runs.Find(runId ?? "");
        if (run is null) return;
        if (!RunsByConnection.TryGetValue(Context.ConnectionId, out var owned) || !owned.Contains(run.Id))
            throw new HubException("Only the connection that started a run can stop it.");
        runs.Stop(run.Id);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (RunsByConnection.TryRemove(Context.ConnectionId, out var owned))
            foreach (var runId in owned) runs.Stop(runId);
        return base.OnDisconnectedAsync(exception);
    }

    void Own(string runId) => RunsByConnection.GetOrAdd(Context.ConnectionId, _ => []).Add(runId);

    static Dictionary<string, string> ToDictionary(IEnumerable<SpecProblem> problems) =>
        problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => string.Join(" ", g.Select(p => p.Message)));
}

/// <summary>What the replay page's player gets for a saved run.</summary>
public sealed class ReplaySnapshot
{
    public RunFrame[] Frames { get; init; } = [];
    public byte[] Measurement { get; init; } = [];
    public byte[] GroundTruth { get; init; } = [];
}
