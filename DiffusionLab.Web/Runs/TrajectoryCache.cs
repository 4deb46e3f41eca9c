using DiffusionLab.Engine.Runs;
using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Built trajectory animations (about a megabyte each, a tenth of a second or more of decoding and
/// encoding), kept by run and keyframe count: a finished run's animation is built once however often
/// it is downloaded, a live run's again only when it has a new keyframe. One is built at a time,
/// and the cache is bounded in bytes (<see cref="LimitOptions.TrajectoryCacheBytes"/>).
/// </summary>
public sealed class TrajectoryCache(IOptions<LimitOptions> options)
{
    readonly BoundedCache<(string RunId, int Keyframes), byte[]> built = new(Math.Max(0, options.Value.TrajectoryCacheBytes), png => png.Length);
    readonly SemaphoreSlim builder = new(1, 1);
    long builds;

    /// <summary>Animations built so far (an answer from the cache is not counted).</summary>
    internal long Builds => Interlocked.Read(ref builds);

    public async Task<byte[]> ForAsync(string runId, IReadOnlyList<StepRecord> keyframes, Func<IReadOnlyList<StepRecord>, byte[]> build, CancellationToken cancellation)
    {
        var key = (runId, keyframes.Count);
        if (built.TryGet(key, out var png)) return png;
        await builder.WaitAsync(cancellation);
        try
        {
            if (built.TryGet(key, out png)) return png; // built while this request waited
            Interlocked.Increment(ref builds);
            png = build(keyframes);
            built.Add(key, png);
            return png;
        }
        finally
        {
            builder.Release();
        }
    }
}
