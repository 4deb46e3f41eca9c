using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Components;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Features.Watch;
using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Uploads;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using MudBlazor.Services;

namespace DiffusionLab.Web;

/// <summary>
/// Everything the lab registers and maps, in one place. Each service is registered once, as a
/// singleton; pages, hubs and endpoints ask for the seams (<see cref="ILiveRuns"/>,
/// <see cref="IRunStore"/>, <see cref="IUploadStore"/>), never for the classes behind them, so
/// another implementation of a seam is a change to this file only.
/// </summary>
public static class LabServices
{
    public static IServiceCollection AddLab(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddMudServices();
        services.AddHubRefusalLogging();
        services.AddSignalR(options => options.MaximumReceiveMessageSize = 64 * 1024).AddMessagePackProtocol();
        // Detailed hub errors (exception messages sent to the client) only while developing.
        services.AddOptions<HubOptions>().Configure<IHostEnvironment>((options, environment) => options.EnableDetailedErrors = environment.IsDevelopment());

        services.Configure<LabOptions>(configuration.GetSection("Lab"));
        services.Configure<RunStoreOptions>(configuration.GetSection("RunStore"));
        services.Configure<SchedulerOptions>(configuration.GetSection("Scheduler"));

        // The catalogs and the engine's runner.
        services.AddSingleton(_ => PriorCatalog.ForContentRoot(ContentRoot.Find()));
        services.AddSingleton(provider => new LabCatalog(provider.GetRequiredService<PriorCatalog>()));
        // The evaluate verb's tables: it writes models/results/PRIOR/results.json unless Lab:ResultsFolder says otherwise.
        services.AddSingleton(_ => new Features.Results.ResultsTables(configuration["Lab:ResultsFolder"] is { Length: > 0 } folder
            ? folder : Path.Combine(ContentRoot.Models(ContentRoot.Find()), "results")));
        services.AddSingleton(provider => new Runner(provider.GetRequiredService<PriorCatalog>(), provider.GetRequiredService<IUploadStore>()));
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<SchedulerOptions>>().Value;
            return new RunScheduler(options.MaxBatch, options.MaxPerClient, TimeSpan.FromMilliseconds(options.GatherWindowMs),
                parallelism: options.Parallelism > 0 ? options.Parallelism : null);
        });
        services.AddSingleton<MeasurementPreview>();

        // The seams: one instance of each for the whole app.
        services.AddSingleton<IUploadStore, UploadedImages>();
        services.AddSingleton<IRunStore>(provider => new RunStore(provider.GetRequiredService<IOptions<RunStoreOptions>>().Value,
            provider.GetRequiredService<IWebHostEnvironment>().ContentRootPath));
        // The run service is also the hosted service that starts queued runs: the same instance.
        // A browser's share of the lab, and each circuit's work (it ends with the circuit).
        services.AddSingleton<BrowserShares>();
        services.AddScoped<CircuitWork>();
        services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler, CircuitWorkHandler>();
        services.AddSingleton<RunService>();
        services.AddSingleton<ILiveRuns>(provider => provider.GetRequiredService<RunService>());
        services.AddHostedService(provider => provider.GetRequiredService<RunService>());

        // What the hubs and pages share across calls (a hub instance lives for one call only).
        services.AddSingleton<ConnectionRuns>();

        // What keeps one browser's work bounded on a shared server: rate limits, the 2-D pictures'
        // cache and slots, the trajectory cache, and handing freed memory back after bursts.
        services.AddLabRateLimits(configuration);
        services.AddSingleton<WatchRelay>();
        // Finished runs and batches wait for the store in files beside it (in memory for an in-memory store).
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<RunStoreOptions>>().Value;
            var file = (provider.GetRequiredService<IRunStore>() as RunStore)?.FilePath;
            return new SaveSpool(file is null ? null : SaveSpool.FolderFor(file), options.SaveQueue, options.SpoolBytes, provider.GetRequiredService<ILogger<SaveSpool>>());
        });
        services.AddSingleton<RunArchive>();
        services.AddHostedService(provider => provider.GetRequiredService<RunArchive>());
        services.AddSingleton<DiversityService>();
        services.AddSingleton<ToyRuns>();
        return services;
    }

    /// <summary>The pages, the hubs and the downloads.</summary>
    public static WebApplication MapLab(this WebApplication app)
    {
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode().Add(AnswerHead);
        app.MapHub<RunHub>("/hubs/runs");
        app.MapHub<ToyHub>("/hubs/toy");
        app.UsePrivatePages(); // after routing (Program.cs routes first): it looks at the page routing picked
        app.MapHub<WatchHub>("/hubs/watch");
        RunDownloads.Map(app);
        return app;
    }

    // Pages answer HEAD as they answer GET (Kestrel sends the headers without the body): link
    // checkers and uptime probes ask with HEAD, and page endpoints accept only GET and POST.
    static void AnswerHead(EndpointBuilder endpoint)
    {
        if (!endpoint.Metadata.OfType<ComponentTypeMetadata>().Any()) return;
        var methods = endpoint.Metadata.OfType<HttpMethodMetadata>().LastOrDefault();
        if (methods is null || !methods.HttpMethods.Contains(HttpMethods.Get) || methods.HttpMethods.Contains(HttpMethods.Head)) return;
        endpoint.Metadata.Remove(methods);
        endpoint.Metadata.Add(new HttpMethodMetadata([.. methods.HttpMethods, HttpMethods.Head], methods.AcceptCorsPreflight));
    }
}
