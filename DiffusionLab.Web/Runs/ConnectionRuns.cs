using System.Collections.Concurrent;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Which runs each /hubs/runs connection owns (started, or claimed with the owner key), so that
/// only the owner may stop a run and a closed connection stops its runs. One instance for the app;
/// hubs are made per call, so the map cannot live in the hub.
/// </summary>
/// <remarks>
/// This stays per web instance even when several share a backplane: a SignalR connection lives on
/// one server for its whole life, and its close is seen only there. Stopping goes through
/// <see cref="ILiveRuns.Stop"/>, which is what reaches a run computed elsewhere.
/// </remarks>
public sealed class ConnectionRuns
{
    readonly ConcurrentDictionary<string, ConcurrentDictionary<string, byte>> byConnection = new();

    /// <summary>Records that <paramref name="connectionId"/> owns <paramref name="runId"/>.</summary>
    public void Own(string connectionId, string runId) => byConnection.GetOrAdd(connectionId, _ => new()).TryAdd(runId, 0);

    public bool Owns(string connectionId, string runId) =>
        byConnection.TryGetValue(connectionId, out var owned) && owned.ContainsKey(runId);

    /// <summary>Forgets a closed connection; returns the runs it owned (to stop them).</summary>
    public IReadOnlyCollection<string> Release(string connectionId) =>
        byConnection.TryRemove(connectionId, out var owned) ? [.. owned.Keys] : [];
}
