using DiffusionLab.Engine.Toy;
using Microsoft.Extensions.Options;
using System.Globalization;
using System.Threading.RateLimiting;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// The 2-D lab's pictures (<see cref="ToyRuns.Scene"/>, <see cref="ToyRuns.Marginal"/>) served to a
/// whole class: each is exact CPU work of tens of milliseconds and a few hundred kilobytes, asked
/// for again on every drag and slider move. So an answer is kept by what was asked (the spec as
/// parsed, and t) in a cache bounded in bytes and answered again without computing; at most
/// <see cref="LimitOptions.PictureSlots"/> are computed at once, the rest wait (without holding a
/// thread) up to <see cref="LimitOptions.PictureQueue"/> deep; and each connection is paced by its
/// own token bucket, so one tab looping requests gets its share and no more. A request past those
/// bounds is answered with a message in the answer's Problems, never with an error.
/// </summary>
public sealed class ToyPictures : IDisposable
{
    public const string Busy = "The 2-D lab is drawing for many students right now: the picture will follow in a moment.";
    public const string TooFast = "This page is asking for pictures faster than the lab draws them: the picture will follow in a moment.";

    readonly ToyRuns toy;
    readonly LimitOptions settings;
    readonly ConcurrencyLimiter slots;
    readonly BoundedCache<string, object> cache;
    long computed;

    public ToyPictures(ToyRuns toy, IOptions<LimitOptions> options)
    {
        this.toy = toy;
        settings = options.Value;
        slots = new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = settings.PictureSlots > 0 ? settings.PictureSlots : Math.Max(1, Environment.ProcessorCount / 2),
            QueueLimit = Math.Max(0, settings.PictureQueue),
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        });
        cache = new BoundedCache<string, object>(Math.Max(0, settings.PictureCacheBytes), SizeOf);
    }

    /// <summary>Pictures computed so far (a cached answer is not counted).</summary>
    internal long Computed => Interlocked.Read(ref computed);

    /// <summary>The server-wide slots, so a test can occupy them as busy computations would.</summary>
    internal ConcurrencyLimiter Slots => slots;

    internal long CachedBytes => cache.Bytes;

    /// <summary>A connection's pace: a burst, then a steady rate; past it a request waits for its turn (newest first), or is refused when too many wait.</summary>
    public RateLimiter ForConnection() => new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
    {
        TokenLimit = Math.Max(1, settings.PictureBurst),
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1 / Math.Clamp(settings.PicturesPerSecond, 0.001, 1000)),
        QueueLimit = Math.Max(0, settings.PictureWaitsPerConnection),
        QueueProcessingOrder = QueueProcessingOrder.NewestFirst,
        AutoReplenishment = true,
    });

    public async Task<ToyScene> SceneAsync(string specJson, double t, RateLimiter pace, CancellationToken cancellation)
    {
        var (spec, problems) = ToySpec.Parse(specJson);
        if (spec is null) return new ToyScene { Problems = problems.Select(p => p.Message).ToArray() };
        var answer = await AnswerAsync("scene", spec, t, pace, () => toy.Scene(specJson, t), cancellation);
        return answer as ToyScene ?? new ToyScene { Problems = [(string)answer] };
    }

    /// <summary>p_t at t; a spec with problems throws <see cref="ArgumentException"/> as <see cref="ToyRuns.Marginal"/> does.</summary>
    public async Task<ToyMarginal> MarginalAsync(string specJson, double t, RateLimiter pace, CancellationToken cancellation)
    {
        var (spec, problems) = ToySpec.Parse(specJson);
        if (spec is null) throw new ArgumentException(string.Join(" ", problems.Select(p => p.Message)));
        var answer = await AnswerAsync("marginal", spec, t, pace, () => toy.Marginal(specJson, t), cancellation);
        return answer as ToyMarginal ?? new ToyMarginal { T = t, Problems = [(string)answer] };
    }

    /// <summary>The cached or computed answer, or the message (a string) saying why there is none now.</summary>
    async Task<object> AnswerAsync(string kind, ToySpec spec, double t, RateLimiter pace, Func<object> compute, CancellationToken cancellation)
    {
        using (var turn = await pace.AcquireAsync(1, cancellation))
            if (!turn.IsAcquired) return TooFast;
        // The spec as parsed, written back: the same picture however the browser spelled its JSON.
        var key = string.Create(CultureInfo.InvariantCulture, $"{kind}|{t:R}|{spec.ToJson()}");
        if (cache.TryGet(key, out var cached)) return cached;
        using var slot = await slots.AcquireAsync(1, cancellation);
        if (!slot.IsAcquired) return Busy;
        // Others waiting for a slot may have asked for the very same picture: the first one made it.
        if (cache.TryGet(key, out cached)) return cached;
        Interlocked.Increment(ref computed);
        var answer = compute();
        if (answer is not ToyScene { Problems.Length: > 0 }) cache.Add(key, answer);
        return answer;
    }

    static long SizeOf(object answer) => answer switch
    {
        ToyScene s => 256 + s.Density.Length + s.Posterior.Length + s.Arrows.Length + s.Data.Length + s.Noise.Length + s.AlphaBars.Length * 8L,
        ToyMarginal m => 128 + m.Density.Length + m.Arrows.Length,
        _ => 128,
    };

    public void Dispose() => slots.Dispose();
}
