using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// The runs this lab knows while they are queued, computing or just over: what pages, hubs, the
/// downloads and the archiver ask of the run service. <see cref="RunService"/> keeps them in this
/// process; the lab registers one instance for the whole app.
/// </summary>
/// <remarks>
/// A second implementation (a registry shared by several web instances, say over a Redis
/// backplane) has to honour what callers rely on:
/// <list type="bullet">
/// <item><see cref="Start"/> checks the spec (and that an uploaded image belongs to <c>owner</c>)
/// before queuing, and returns the problems in plain words instead of throwing for anything a
/// visitor typed; a full queue is a problem too, not an exception.</item>
/// <item>Run ids are short URL-safe tokens, unique across every instance; <see cref="Find"/> of an
/// unknown, expired or malformed id is null, never an exception.</item>
/// <item>A started run keeps its <see cref="LabRun.OwnerKey"/> secret: only the starter learns it;
/// the id alone (which watchers have) must not be enough to stop the run.</item>
/// <item><see cref="Stop"/> is idempotent and quiet for an unknown id; a queued run leaves the queue
/// at once, a computing one at its next step, wherever it computes.</item>
/// <item><see cref="RunEnded"/> fires exactly once per run, after its last frame and with its final
/// status, on one instance only (the archiver saves each run once), and before the run's frame
/// streams complete, so a run is spooled for saving before anyone hears it ended.</item>
/// <item>A finished run stays findable for a while (the scrubber and downloads read it) and is then
/// forgotten, oldest first.</item>
/// </list>
/// </remarks>
public interface ILiveRuns
{
    /// <summary>Queues a run, or returns the problems that keep it from starting.</summary>
    /// <param name="client">Who asked (a browser circuit, a hub connection), for the scheduler's per-client share of batches.</param>
    /// <param name="owner">The browser's id (<see cref="BrowserIdentity"/>), kept with the saved run so only that browser can delete it.</param>
    (LabRun? Run, IReadOnlyList<SpecProblem> Problems) Start(ExperimentSpec spec, string? client = null, string? owner = null);

    /// <summary>The run with this id, while it is live or recently over; null otherwise.</summary>
    LabRun? Find(string id);

    /// <summary>Stops a run: a queued one leaves the queue at once, a running one at its next step.</summary>
    void Stop(string id);

    /// <summary>Raised once per run after it has finished, failed or been cancelled (the archiver saves it).</summary>
    event Action<LabRun>? RunEnded;

    /// <summary>About how long a queued run will wait for a slot; null when there is no way to tell.</summary>
    TimeSpan? EstimateWait(LabRun queued) => null;

    /// <summary>Runs computing right now.</summary>
    int ActiveCount { get; }
}
