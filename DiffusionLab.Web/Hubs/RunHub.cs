using System.Collections.Concurrent;
using System.Threading.Channels;
using DiffusionLab.Engine.Experiments;
using DiffusionLab.Web.Services;
using Microsoft.AspNetCore.SignalR;

namespace DiffusionLab.Web.Hubs;

/// <summary>
/// /hubs/runs (MessagePack): streams a run's frames to the browser's canvas player, and lets a
/// client (a script, a test, later the compare page) start and stop runs of its own. A run
/// started here is stopped when its connection closes.
/// </summary>
public sealed class RunHub(RunService runs) : Hub
{
    static readonly ConcurrentDictionary<string, ConcurrentBag<string>> RunsByConnection = new();

    public StartRunReply StartRun(string specQuery)
    {
        var parsed = ExperimentSpec.Parse(specQuery);
        if (parsed.Spec is null || parsed.Problems.Count > 0)
            return new StartRunReply { Problems = ToDictionary(parsed.Problems) };
        var (run, problems) = runs.Start(parsed.Spec, Context.ConnectionId);
        if (run is null) return new StartRunReply { Problems = ToDictionary(problems) };
        RunsByConnection.GetOrAdd(Context.ConnectionId, _ => []).Add(run.Id);
        return new StartRunReply { RunId = run.Id, QueuePosition = run.QueuePosition };
    }

    /// <summary>The run's frames from the latest one on, fewest-but-newest for a slow client; always ends with the final step.</summary>
    public ChannelReader<RunFrame> Frames(string runId, CancellationToken cancellation)
    {
        var run = runs.Find(runId) ?? throw new HubException("There is no run with this id (it may have ended long ago).");
        return run.Subscribe(cancellation);
    }

    /// <summary>Every stored keyframe of a run, for the scrubber.</summary>
    public RunFrame[] Keyframes(string runId) =>
        runs.Find(runId)?.KeyframesSnapshot().ToArray() ?? throw new HubException("There is no run with this id.");

    public void StopRun(string runId)
    {
        var run = runs.Find(runId);
        if (run is null) return;
        if (run.OwnerConnectionId != Context.ConnectionId)
            throw new HubException("Only the connection that started a run can stop it.");
        runs.Stop(runId);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (RunsByConnection.TryRemove(Context.ConnectionId, out var owned))
            foreach (var runId in owned) runs.Stop(runId);
        return base.OnDisconnectedAsync(exception);
    }

    static Dictionary<string, string> ToDictionary(IEnumerable<SpecProblem> problems) =>
        problems.GroupBy(p => p.Field).ToDictionary(g => g.Key, g => string.Join(" ", g.Select(p => p.Message)));
}
