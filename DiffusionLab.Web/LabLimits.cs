using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using System.Globalization;
using System.Threading.RateLimiting;

namespace DiffusionLab.Web;

/// <summary>
/// How much one browser may ask of the shared server per minute, and how much work the server does
/// at once for the 2-D lab's pictures (section "Limits" of appsettings.json). A class of thirty
/// shares one server: none of these should be noticed by a student using the lab as intended.
/// </summary>
public sealed class LimitOptions
{
    /// <summary>Downloads (result.png, trajectory.png) per browser per minute.</summary>
    public int DownloadsPerMinute { get; set; } = 60;

    /// <summary>Uploaded images per browser per minute.</summary>
    public int UploadsPerMinute { get; set; } = 20;

    /// <summary>Runs started per browser per minute (the compare page's one click counts each run it starts).</summary>
    public int RunStartsPerMinute { get; set; } = 40;

    /// <summary>Frame streams one hub connection may have open at once (a page's players: the compare page shows six).</summary>
    public int FrameStreamsPerConnection { get; set; } = 8;

    /// <summary>2-D lab pictures computed at once across the server; 0 picks half the cores (at least one).</summary>
    public int PictureSlots { get; set; }

    /// <summary>2-D lab picture requests allowed to wait for a slot; beyond this one is answered "busy".</summary>
    public int PictureQueue { get; set; } = 64;

    /// <summary>2-D lab picture requests a connection may make in a burst, and per second after it.</summary>
    public int PictureBurst { get; set; } = 20;
    public double PicturesPerSecond { get; set; } = 20;

    /// <summary>Requests of one connection that may wait for their turn past that pace (more are answered "too fast"; 0: none wait).</summary>
    public int PictureWaitsPerConnection { get; set; } = 1;

    /// <summary>Memory kept for computed 2-D pictures (the cache answers the same request again without computing).</summary>
    public long PictureCacheBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>Memory kept for built trajectory animations (each about 1 MB), so a download is built once.</summary>
    public long TrajectoryCacheBytes { get; set; } = 24L * 1024 * 1024;
}

/// <summary>
/// The per-browser rate limits (ASP.NET Core's rate limiter) and the bounded services the lab's
/// expensive answers go through. A browser is told apart by its <see cref="BrowserIdentity"/>
/// cookie, or, without one, by its address.
/// </summary>
public static class LabLimits
{
    /// <summary>The rate-limiter policy of the download endpoints.</summary>
    public const string DownloadPolicy = "downloads";

    public static IServiceCollection AddLabRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<LimitOptions>(configuration.GetSection("Limits"));
        services.AddSingleton<StartAndUploadLimits>();
        services.AddSingleton<ToyPictures>();
        services.AddSingleton<TrajectoryCache>();
        services.AddSingleton<MemoryReturn>();
        services.AddHostedService(provider => provider.GetRequiredService<MemoryReturn>());
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.OnRejected = async (context, cancellation) =>
            {
                var response = context.HttpContext.Response;
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(30);
                response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                response.ContentType = "text/plain; charset=utf-8";
                await response.WriteAsync(TooMany("downloads", wait), cancellation);
            };
            options.AddPolicy(DownloadPolicy, context =>
            {
                var perMinute = Math.Max(1, context.RequestServices.GetRequiredService<IOptions<LimitOptions>>().Value.DownloadsPerMinute);
                return RateLimitPartition.GetTokenBucketLimiter(PartitionKey(BrowserIdentity.Sent(context), context), _ => PerMinute(perMinute));
            });
        });
        return services;
    }

    /// <summary>Who a request counts against: its browser cookie, or its address.</summary>
    public static string PartitionKey(string? browser, HttpContext? context) =>
        browser is not null ? "browser:" + browser : "address:" + (context?.Connection.RemoteIpAddress?.ToString() ?? "unknown");

    /// <summary>A bucket of a minute's allowance that refills evenly over the minute; nothing waits in a queue.</summary>
    internal static TokenBucketRateLimiterOptions PerMinute(int perMinute) => new()
    {
        TokenLimit = perMinute,
        TokensPerPeriod = 1,
        ReplenishmentPeriod = TimeSpan.FromMinutes(1) / perMinute,
        QueueLimit = 0,
        AutoReplenishment = true,
    };

    internal static string TooMany(string what, TimeSpan wait) =>
        $"This browser has asked for many {what} in a short time, and the lab is shared by the whole class: wait {Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds))} seconds and try again.";
}

/// <summary>
/// Per-browser allowances for what a page or a hub does inside one connection (a Blazor circuit's
/// upload, a run start), where no HTTP request passes the rate-limiting middleware: the same
/// limiters, asked directly.
/// </summary>
public sealed class StartAndUploadLimits(IOptions<LimitOptions> options) : IDisposable
{
    readonly PartitionedRateLimiter<string> uploads = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => LabLimits.PerMinute(Math.Max(1, options.Value.UploadsPerMinute))));
    readonly PartitionedRateLimiter<string> starts = PartitionedRateLimiter.Create<string, string>(key =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => LabLimits.PerMinute(Math.Max(1, options.Value.RunStartsPerMinute))));

    /// <summary>Null when this browser may upload now; otherwise what to tell it.</summary>
    public string? RefuseUpload(string partition) => Refuse(uploads, partition, 1, "uploads");

    /// <summary>Null when this browser may start <paramref name="count"/> runs now; otherwise what to tell it.</summary>
    public string? RefuseStart(string partition, int count = 1) =>
        Refuse(starts, partition, Math.Clamp(count, 1, Math.Max(1, options.Value.RunStartsPerMinute)), "runs");

    static string? Refuse(PartitionedRateLimiter<string> limiter, string partition, int count, string what)
    {
        using var lease = limiter.AttemptAcquire(partition, count);
        if (lease.IsAcquired) return null;
        return LabLimits.TooMany(what, lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        uploads.Dispose();
        starts.Dispose();
    }
}
