using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using Microsoft.AspNetCore.Components;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// What the classroom pages (compare, diversity, saved runs) share: <see cref="ReadyAttribute"/> for
/// their root element ("false" while prerendered, "true" once the circuit is live and buttons
/// work, which the browser tests wait for) and the browser's id (<see cref="BrowserIdentity"/>),
/// which owns the runs the page starts.
/// </summary>
public abstract class ClassroomPage : ComponentBase
{
    bool ready;

    /// <summary>This browser's id: the owner of what it runs, the only one that may delete it.</summary>
    [CascadingParameter(Name = "Browser")] public string? Browser { get; set; }

    protected string ReadyAttribute => ready ? "true" : "false";

    /// <summary>
    /// Whether this browser may see a saved run or batch: any, except one on an image that another
    /// browser uploaded (a student's photo stays theirs, as their uploads do).
    /// </summary>
    protected bool MayShow(string specQuery, string? owner) => MayShow(specQuery, owner, Browser);

    /// <summary>The same rule for a browser known by its id alone (the hub that serves a saved run's frames).</summary>
    public static bool MayShow(string specQuery, string? owner, string? browser) => MayShow(SavedSpec(specQuery), owner, browser);

    /// <summary>
    /// The same rule for a live run, at every door that shows one: its downloads, its watch page and
    /// the hubs' frames and snapshots. A run on an upload is the uploader's alone while it is live too.
    /// </summary>
    public static bool MayShow(Runs.LabRun run, string? browser) => MayShow(run.Spec, run.Owner, browser);

    static bool MayShow(ExperimentSpec? spec, string? owner, string? browser) =>
        (owner is not null && owner == browser) || spec?.ImageReference is not { Source: ImageSource.Upload };

    /// <summary>What a door says to another browser asking for a run on someone's upload.</summary>
    public const string PrivateRunMessage = "This run was made on an uploaded image, and only the browser that uploaded it can see it.";

    /// <summary>Whether this browser made a saved run or batch (the only one that may delete it).</summary>
    protected bool IsMine(string? owner) => owner is not null && owner == Browser;

    /// <summary>A deleted run cannot come back, and its button sits beside "rerun": every delete asks first.</summary>
    protected static async Task<bool> ConfirmDeleteAsync(MudBlazor.IDialogService dialogs, string what) =>
        await dialogs.ShowMessageBoxAsync($"Delete {what}?", "It is gone for everyone, with its replay and its links. This cannot be undone.",
            yesText: "Delete", cancelText: "Keep it") == true;

    /// <summary>The spec a saved run or batch was made with (a batch's query also holds the page's own "n").</summary>
    protected static ExperimentSpec? SavedSpec(string specQuery) => ExperimentSpec.Parse(specQuery.Split("&n=")[0]).Spec;

    protected override void OnAfterRender(bool firstRender)
    {
        if (!firstRender) return;
        ready = true;
        StateHasChanged();
    }
}
