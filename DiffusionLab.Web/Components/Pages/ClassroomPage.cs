using Microsoft.AspNetCore.Components;

namespace DiffusionLab.Web.Components.Pages;

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

    protected override void OnAfterRender(bool firstRender)
    {
        if (!firstRender) return;
        ready = true;
        StateHasChanged();
    }
}
