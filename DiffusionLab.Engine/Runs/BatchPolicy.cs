namespace DiffusionLab.Engine.Runs;

/// <summary>A network call waiting for a batch, as <see cref="BatchPolicy"/> sees it: nothing but what the decision needs.</summary>
/// <param name="Prior">The network it asks; calls to different networks never share a batch (compared by reference).</param>
/// <param name="IsGuided">Guided calls (a forward and a backward pass) and plain ones are batched apart.</param>
/// <param name="Client">Who started the run, for the per-client share.</param>
/// <param name="Samples">How many samples the call carries.</param>
public readonly record struct WaitingCall(object Prior, bool IsGuided, string Client, long Samples);

/// <summary>
/// Which waiting network calls go in the next batch, when a batch goes, and how it is split over
/// threads: the decisions of <see cref="RunScheduler"/>, without its threads and locks, so each can
/// be read and tested on its own.
/// </summary>
/// <remarks>
/// The oldest call decides the batch's network and kind. Calls join oldest first while they fit in
/// <see cref="MaxBatch"/> samples (the oldest always goes, even alone over the cap). While others wait,
/// one client gets at most <see cref="MaxPerClient"/> samples; a second pass fills what is left free
/// with the calls held back, so the cap never leaves places empty. Every call waiting when a batch is
/// formed is in it unless the batch is full, so no call waits more than ⌈waiting / MaxBatch⌉ batches.
/// </remarks>
/// <param name="MaxBatch">Most samples in one network call.</param>
/// <param name="MaxPerClient">Most samples of one client in a batch while others wait.</param>
/// <param name="GatherWindow">How long a batch waits for runs that are between steps before it goes with what it has.</param>
public sealed record BatchPolicy(int MaxBatch, int MaxPerClient, TimeSpan GatherWindow)
{
    /// <summary>The longest wait for stragglers, however slow the network: past this, waiting costs more than it saves.</summary>
    public static readonly TimeSpan LongestGather = TimeSpan.FromMilliseconds(200);

    /// <summary>The next batch: indices into <paramref name="waiting"/> (oldest first), in the order they are served. Empty when nothing waits.</summary>
    public IReadOnlyList<int> NextBatch(IReadOnlyList<WaitingCall> waiting)
    {
        var batch = new List<int>();
        if (waiting.Count == 0) return batch;
        var first = waiting[0];
        var taken = new bool[waiting.Count];
        var perClient = new Dictionary<string, long>(StringComparer.Ordinal);
        long size = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int i = 0; i < waiting.Count; i++)
            {
                var call = waiting[i];
                if (taken[i] || !ReferenceEquals(call.Prior, first.Prior) || call.IsGuided != first.IsGuided) continue;
                if (size > 0 && size + call.Samples > MaxBatch) continue;
                var mine = perClient.GetValueOrDefault(call.Client);
                if (pass == 0 && mine > 0 && mine + call.Samples > MaxPerClient) continue;
                taken[i] = true;
                batch.Add(i);
                perClient[call.Client] = mine + call.Samples;
                size += call.Samples;
            }
        return batch;
    }

    /// <summary>
    /// Whether a batch should go now rather than wait for runs that are between steps: when every run
    /// on the oldest call's network is already asking (nobody is left to wait for), or when as many
    /// calls wait as a batch can hold.
    /// </summary>
    /// <param name="runsOnPrior">Runs that have called the oldest call's network and not ended yet.</param>
    public bool GoesNow(IReadOnlyList<WaitingCall> waiting, int runsOnPrior)
    {
        if (waiting.Count == 0) return false;
        if (waiting.Count >= MaxBatch) return true;
        var asking = waiting.Count(call => ReferenceEquals(call.Prior, waiting[0].Prior));
        return asking >= runsOnPrior;
    }

    /// <summary>
    /// How long to wait for stragglers: the gather window, or a quarter of the last batch's time when
    /// the network is slower (waiting a quarter of a batch for a straggler is cheaper than serving it
    /// alone in a batch of its own next), never more than <see cref="LongestGather"/>.
    /// </summary>
    public TimeSpan GatherTime(TimeSpan lastServe)
    {
        var quarter = TimeSpan.FromTicks(Math.Min(lastServe.Ticks, LongestGather.Ticks * 4) / 4);
        return quarter > GatherWindow ? quarter : GatherWindow;
    }

    /// <summary>
    /// A batch split into at most <paramref name="parts"/> parts, each served on its own thread, with
    /// samples as even as whole calls allow: the largest calls are placed first, each on the part with
    /// the fewest samples so far (ties to the earlier call in the list and the first part). Returns indices into
    /// <paramref name="sizes"/>, each part in the order its calls were placed.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<int>> Split(IReadOnlyList<long> sizes, int parts)
    {
        parts = Math.Min(parts, sizes.Count);
        if (parts <= 1) return [Enumerable.Range(0, sizes.Count).ToArray()];
        var split = Enumerable.Range(0, parts).Select(_ => new List<int>()).ToArray();
        var totals = new long[parts];
        foreach (var call in Enumerable.Range(0, sizes.Count).OrderByDescending(i => sizes[i]).ThenBy(i => i))
        {
            var smallest = Array.IndexOf(totals, totals.Min());
            split[smallest].Add(call);
            totals[smallest] += sizes[call];
        }
        return split;
    }
}
