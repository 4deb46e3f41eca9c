namespace DiffusionLab.Web.Runs;

/// <summary>
/// A waiting line that serves browsers in turn rather than requests in the order they came: each
/// browser's requests wait in a line of their own, and each start goes to the browser with the least
/// work in service, among equals the one served least recently (a browser never served before
/// those that were, then by arrival). A browser that queued four runs does not keep a classmate's
/// single run behind all four. Not thread-safe: the owner locks around it.
/// </summary>
public sealed class FairQueue<T> where T : class
{
    /// <summary>Browsers remembered as served once they have nothing waiting; past this the oldest memories go.</summary>
    const int ServedRemembered = 4096;

    readonly Dictionary<string, LinkedList<(T Item, long Arrival)>> lines = new(StringComparer.Ordinal);
    readonly Dictionary<T, string> browserOf = new(ReferenceEqualityComparer.Instance);
    readonly Dictionary<string, long> lastServed = new(StringComparer.Ordinal);
    long arrivals, serves;

    /// <summary>Requests waiting, all browsers together.</summary>
    public int Count => browserOf.Count;

    public void Enqueue(string browser, T item)
    {
        if (!lines.TryGetValue(browser, out var line)) lines[browser] = line = new();
        line.AddLast((item, arrivals++));
        browserOf[item] = browser;
    }

    /// <summary>Takes a request out of the line (a stopped one); false when it was not waiting.</summary>
    public bool Remove(T item)
    {
        if (!browserOf.Remove(item, out var browser)) return false;
        var line = lines[browser];
        for (var node = line.First; node is not null; node = node.Next)
            if (ReferenceEquals(node.Value.Item, item))
            {
                line.Remove(node);
                break;
            }
        if (line.Count == 0) lines.Remove(browser);
        return true;
    }

    /// <summary>
    /// The next request to start: the first request of the browser whose turn it is (see the class)
    /// among those whose first request <paramref name="canStart"/> allows; a browser whose next request
    /// has no room yet keeps its place. Null when none can start.
    /// </summary>
    /// <param name="inService">How much of a browser's work is running now.</param>
    public T? TakeNext(Func<T, bool>? canStart = null, Func<string, int>? inService = null)
    {
        string? best = null;
        (int, long, long) bestKey = default;
        foreach (var (browser, line) in lines)
        {
            if (canStart is not null && !canStart(line.First!.Value.Item)) continue;
            var key = (inService?.Invoke(browser) ?? 0, lastServed.GetValueOrDefault(browser, -1), line.First!.Value.Arrival);
            if (best is null || key.CompareTo(bestKey) < 0) (best, bestKey) = (browser, key);
        }
        if (best is null) return null;
        var chosen = lines[best];
        var first = chosen.First!.Value.Item;
        chosen.RemoveFirst();
        if (chosen.Count == 0) lines.Remove(best);
        browserOf.Remove(first);
        lastServed[best] = serves++;
        if (lastServed.Count > ServedRemembered)
            foreach (var forgotten in lastServed.Where(s => !lines.ContainsKey(s.Key)).OrderBy(s => s.Value).Take(lastServed.Count - ServedRemembered / 2).Select(s => s.Key).ToList())
                lastServed.Remove(forgotten);
        return first;
    }

    /// <summary>Every waiting request in the order <see cref="TakeNext"/> would start them if each could start at once and none ended (for queue positions).</summary>
    public IEnumerable<T> InServeOrder(Func<string, int>? inService = null)
    {
        var heads = lines.ToDictionary(l => l.Key, l => l.Value.First, StringComparer.Ordinal);
        var load = heads.Keys.ToDictionary(b => b, b => inService?.Invoke(b) ?? 0, StringComparer.Ordinal);
        var served = heads.Keys.ToDictionary(b => b, b => lastServed.GetValueOrDefault(b, -1), StringComparer.Ordinal);
        var serial = serves;
        while (heads.Count > 0)
        {
            var browser = heads.MinBy(h => (load[h.Key], served[h.Key], h.Value!.Value.Arrival)).Key;
            var node = heads[browser]!;
            yield return node.Value.Item;
            load[browser]++;
            served[browser] = serial++;
            if (node.Next is { } next) heads[browser] = next;
            else heads.Remove(browser);
        }
    }
}
