namespace DiffusionLab.Web;

/// <summary>
/// Answers kept by key up to a total size in bytes, the least recently used let go first, so that
/// the same expensive answer asked again (a 2-D picture, a trajectory animation) is computed once
/// while the memory it holds stays bounded however many different ones are asked for.
/// </summary>
public sealed class BoundedCache<TKey, TValue>(long maxBytes, Func<TValue, long> sizeOf) where TKey : notnull
{
    readonly object gate = new();
    readonly Dictionary<TKey, LinkedListNode<(TKey Key, TValue Value, long Bytes)>> entries = new();
    readonly LinkedList<(TKey Key, TValue Value, long Bytes)> recency = new();
    long bytes;

    /// <summary>Bytes held now.</summary>
    public long Bytes
    {
        get { lock (gate) return bytes; }
    }

    public int Count
    {
        get { lock (gate) return entries.Count; }
    }

    public bool TryGet(TKey key, out TValue value)
    {
        lock (gate)
        {
            if (entries.TryGetValue(key, out var node))
            {
                recency.Remove(node);
                recency.AddFirst(node);
                value = node.Value.Value;
                return true;
            }
        }
        value = default!;
        return false;
    }

    /// <summary>Keeps an answer (one larger than the whole cache is not kept), letting the least recently used go.</summary>
    public void Add(TKey key, TValue value)
    {
        var size = Math.Max(1, sizeOf(value));
        if (size > maxBytes) return;
        lock (gate)
        {
            if (entries.Remove(key, out var old))
            {
                recency.Remove(old);
                bytes -= old.Value.Bytes;
            }
            entries[key] = recency.AddFirst((key, value, size));
            bytes += size;
            while (bytes > maxBytes && recency.Last is { } oldest)
            {
                recency.RemoveLast();
                entries.Remove(oldest.Value.Key);
                bytes -= oldest.Value.Bytes;
            }
        }
    }
}
