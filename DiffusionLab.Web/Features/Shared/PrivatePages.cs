using DiffusionLab.Web.Features.SavedRuns;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.Components.Endpoints;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// The pages that show one run or batch — the watch page, a saved run's replay, a saved diversity
/// batch — show a refusal instead of one on another browser's upload (<see cref="ClassroomPage.MayShow(string, string?, string?)"/>),
/// as the downloads and the hubs refuse it. A page cannot set its own status code once it renders
/// interactively, so this middleware, which runs once routing has picked the page, makes that
/// answer a 404, as the downloads' is.
/// </summary>
public static class PrivatePages
{
    /// <summary>Whether the watch page of this run is refused to this browser (a live run on someone else's upload).</summary>
    public static bool RefusesWatch(ILiveRuns runs, string? id, string? browser) =>
        runs.Find(id ?? "") is { } run && !ClassroomPage.MayShow(run, browser);

    /// <summary>Whether a saved run's replay is refused to this browser (a run on someone else's upload).</summary>
    public static bool RefusesReplay(IRunStore store, string? id, string? browser) =>
        store.Get(id) is { } run && !ClassroomPage.MayShow(run.SpecQuery, run.Owner, browser);

    /// <summary>Whether a saved diversity batch's page is refused to this browser (a batch on someone else's upload).</summary>
    public static bool RefusesBatch(IRunStore store, string? id, string? browser) =>
        store.GetDiversity(id) is { } batch && !ClassroomPage.MayShow(batch.SpecQuery, batch.Owner, browser);

    public static IApplicationBuilder UsePrivatePages(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (Refuses(context))
                // Set as the headers leave: a status of 404 before rendering makes Blazor render its Not-found page instead of this one.
                context.Response.OnStarting(() =>
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                });
            await next(context);
        });

    static bool Refuses(HttpContext context)
    {
        var page = context.GetEndpoint()?.Metadata.GetMetadata<ComponentTypeMetadata>()?.Type;
        if (page is null) return false;
        var id = context.Request.RouteValues["Id"] as string;
        var browser = BrowserIdentity.Sent(context);
        var services = context.RequestServices;
        if (page == typeof(Watch.Watch)) return RefusesWatch(services.GetRequiredService<ILiveRuns>(), id, browser);
        if (page == typeof(SavedRunReplay)) return RefusesReplay(services.GetRequiredService<IRunStore>(), id, browser);
        if (page == typeof(SavedDiversityBatch)) return RefusesBatch(services.GetRequiredService<IRunStore>(), id, browser);
        return false;
    }
}
