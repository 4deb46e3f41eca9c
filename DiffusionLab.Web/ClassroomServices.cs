using DiffusionLab.Web.Runs;
using Microsoft.Extensions.Options;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Features.Watch;

namespace DiffusionLab.Web;

/// <summary>
/// The classroom side of the lab: the batched run scheduler, the saved-runs store and its
/// archiver, and the read-only watch hub. Program.cs calls these two methods.
/// </summary>
public static class ClassroomServices
{
    public static IServiceCollection AddClassroom(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<RunStoreOptions>(configuration.GetSection("RunStore"));
        services.Configure<SchedulerOptions>(configuration.GetSection("Scheduler"));
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<SchedulerOptions>>().Value;
            return new RunScheduler(options.MaxBatch, options.MaxPerClient, TimeSpan.FromMilliseconds(options.GatherWindowMs),
                parallelism: options.Parallelism > 0 ? options.Parallelism : null);
        });
        services.AddSingleton(provider => new RunStore(provider.GetRequiredService<IOptions<RunStoreOptions>>().Value,
            provider.GetRequiredService<IWebHostEnvironment>().ContentRootPath));
        services.AddHostedService<RunArchive>();
        services.AddSingleton<WatchRelay>();
        services.AddSingleton<DiversityService>();
        return services;
    }

    public static WebApplication MapClassroom(this WebApplication app)
    {
        app.UseWatchPrivacy(); // after routing (Program.cs routes first): it looks at the page routing picked
        app.MapHub<WatchHub>("/hubs/watch");
        return app;
    }
}

/// <summary>Settings of the batched scheduler (section "Scheduler").</summary>
public sealed class SchedulerOptions
{
    /// <summary>Most samples in one batched network call.</summary>
    public int MaxBatch { get; set; } = 32;

    /// <summary>Most samples one client (a browser, a hub connection) gets in a batch while others wait.</summary>
    public int MaxPerClient { get; set; } = 8;

    /// <summary>How long a batch waits for runs that are between steps.</summary>
    public double GatherWindowMs { get; set; } = 15;

    /// <summary>Most threads a batch is split across on the CPU; 0 picks one per core libtorch's threads leave free.</summary>
    public int Parallelism { get; set; }
}
