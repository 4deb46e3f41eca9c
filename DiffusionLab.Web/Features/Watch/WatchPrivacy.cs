using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.Components.Endpoints;

namespace DiffusionLab.Web.Features.Watch;

/// <summary>
/// The watch page of a run on another browser's upload shows a refusal instead of the run (and the
/// watch hub refuses it too). A page cannot set its own status code once it renders interactively,
/// so this middleware, which runs once routing has picked the watch page, makes that answer a 404.
/// </summary>
public static class WatchPrivacy
{
    /// <summary>Whether the watch page of this run is refused to this browser (a live run on someone else's upload).</summary>
    public static bool Refuses(ILiveRuns runs, string? id, string? browser) =>
        runs.Find(id ?? "") is { } run && !ClassroomPage.MayShow(run, browser);

    public static IApplicationBuilder UseWatchPrivacy(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<ComponentTypeMetadata>()?.Type == typeof(Watch)
                && Refuses(context.RequestServices.GetRequiredService<ILiveRuns>(), context.Request.RouteValues["Id"] as string, BrowserIdentity.Sent(context)))
                // Set as the headers leave: a status of 404 before rendering makes Blazor render its Not-found page instead of this one.
                context.Response.OnStarting(() =>
                {
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                });
            await next(context);
        });
}
