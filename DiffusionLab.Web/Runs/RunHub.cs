using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// /hubs/runs (MessagePack): streams a run's frames to the browser's frame player, serves the
/// keyframes of a live or a saved run for its scrubber, and lets a client (a script, a test)
/// start and stop runs of its own. A
/// connection owns the runs it started and those it claimed with their owner key (the lab
/// page's player does, so that closing the tab, which closes this connection at once, stops
/// the page's run); owned runs stop when the connection closes (<see cref="ConnectionRuns"/>).
/// </summary>
public sealed class RunHub(ILiveRuns runs, ConnectionRuns owned, IOptions<LimitOptions> limits, StartAndUploadLimits startLimits) : Hub
{
    public StartRunReply StartRun(string specQuery)
    {
        var parsed = ExperimentSpec.Parse(specQuery);
        if (parsed.Spec is null || parsed.Problems.Count > 0)
            return new StartRunReply { Problems = ToDictionary(parsed.Problems) };
        var http = Context.GetHttpContext();
        // Work counts against a browser's share, so a connection that names no browser could start without limit.
        if (BrowserIdentity.Sent(http) is not { } browser)
            return new StartRunReply { Problems = new() { ["browser"] = BrowserIdentity.MissingMessage } };
        if (startLimits.RefuseStart(LabLimits.PartitionKey(browser, http)) is { } refusal)
            return new StartRunReply { Problems = new() { ["run"] = refusal } };
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

    /// <summary>
    /// The run's frames from the latest one on, fewest-but-newest for a slow client; always ends with
    /// the final step. A bad id is refused from inside the stream: SignalR words a refusal thrown
    /// before the stream exists as "An unexpected error occurred", and one thrown in it as what it is.
    /// </summary>
    /// <remarks>
    /// A connection may have <see cref="LimitOptions.FrameStreamsPerConnection"/> streams open at
    /// once (a page's players); each stream is a subscriber the run's encoder writes to, so
    /// thousands on one run would slow it for its owner.
    /// </remarks>
    public async IAsyncEnumerable<RunFrame> Frames(string runId, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var run = Visible(runId) ?? throw new HubException("There is no run with this id (it may have ended long ago).");
        if (Context.Items.TryGetValue(FrameStreamsKey, out var counted) is false || counted is not StrongBox<int> open)
            Context.Items[FrameStreamsKey] = open = new StrongBox<int>();
        if (Interlocked.Increment(ref open.Value) > limits.Value.FrameStreamsPerConnection)
        {
            Interlocked.Decrement(ref open.Value);
            throw new HubException($"This page already follows {limits.Value.FrameStreamsPerConnection} runs' frames at once: close one of them (or reload the page) to follow another.");
        }
        try
        {
            // One by one as the client takes them (the subscription keeps only the newest).
            await foreach (var step in run.Subscribe(cancellation).ReadAllAsync()) yield return RunFrame.From(step);
        }
        finally
        {
            Interlocked.Decrement(ref open.Value);
        }
    }

    const string FrameStreamsKey = "frame-streams";

    /// <summary>Every stored keyframe of a run, for the scrubber.</summary>
    public RunFrame[] Keyframes(string runId) =>
        Visible(runId)?.KeyframesSnapshot().Select(RunFrame.From).ToArray() ?? throw new HubException("There is no run with this id.");

    /// <summary>The live run with this id, if this connection's browser may see it; another browser's run on its upload is refused.</summary>
    LabRun? Visible(string? runId)
    {
        var run = runs.Find(runId ?? "");
        if (run is not null && !ClassroomPage.MayShow(run, BrowserIdentity.Sent(Context.GetHttpContext())))
            throw new HubException(ClassroomPage.PrivateRunMessage);
        return run;
    }

    /// <summary>
    /// A saved run for its replay page, from the store: the keyframes (the same frames a live run
    /// sends), y and x0. A run on an image another browser uploaded is not shown, as on the page.
    /// </summary>
    public ReplaySnapshot SavedRun(string runId, IRunStore store)
    {
        var run = store.Get(runId);
        if (run is null || !ClassroomPage.MayShow(run.SpecQuery, run.Owner, BrowserIdentity.Sent(Context.GetHttpContext())))
            throw new HubException("There is no saved run with this id.");
        return new ReplaySnapshot { Frames = [.. run.Keyframes.Select(RunFrame.From)], Measurement = run.MeasurementPng ?? [], GroundTruth = run.GroundTruthPng ?? [] };
    }

    public void StopRun(string runId)
    {
        var run = runs.Find(runId ?? "") ?? throw new HubException("There is no run with this id to stop (it may have ended long ago).");
        if (!owned.Owns(Context.ConnectionId, run.Id))
            throw new HubException("Only the connection that started a run can stop it.");
        runs.Stop(run.Id);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        foreach (var runId in owned.Release(Context.ConnectionId)) runs.Stop(runId);
        return base.OnDisconnectedAsync(exception);
    }

    void Own(string runId) => owned.Own(Context.ConnectionId, runId);

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
