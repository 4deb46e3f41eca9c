using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Toy;
using DiffusionLab.Web.Features.Learn;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using System.Globalization;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// The 2-D lab page: binds a <see cref="ToyForm"/> and hands its spec to Toy.razor.js, which fetches the
/// exact pictures and streams the run's particles over /hubs/toy itself and draws them. The page
/// hears back only what changes its controls: edited components, the forward slider's t while it
/// plays, and the end of a run.
/// </summary>
public partial class Toy
{
    [Inject] IJSRuntime JS { get; set; } = default!;
    [Inject] NavigationManager Navigation { get; set; } = default!;

    /// <summary>The address's spec (?spec=…, as this page writes it), when it is one the 2-D lab can run; a bad one leaves the defaults and says so.</summary>
    string? linkNote;

    protected override void OnInitialized()
    {
        lesson = Lessons.Find(Lessons.IdIn(new Uri(Navigation.Uri).Query));
        var query = Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(new Uri(Navigation.Uri).Query);
        if (!query.TryGetValue("spec", out var text)) return;
        var (spec, problems) = ToySpec.Parse(text.ToString());
        if (spec is not null && SolverCatalog.Find(spec.SolverId) is not null) form.Load(spec);
        else linkNote = "This link's 2-D setup could not be used, so the page starts from the ring: " + string.Join(" ", problems.Select(p => p.Message).DefaultIfEmpty("it names no solver the 2-D lab has."));
    }

    readonly ToyForm form = new();
    ElementReference planeCanvas, readout;
    DotNetObjectReference<Toy>? self;
    IJSObjectReference? script; // Toy.razor.js, imported on the first render
    bool rendered, showArrows, showTrails = true, followT;
    double forwardT;
    string status = "idle";
    string? runError;
    double? finalDistance;

    bool IsRunning => status == "running";

    Lesson? lesson; // the lesson this page was opened for (lesson=<id>)

    bool Hides(string control) => lesson?.Hides(control) == true;
    bool Locks(string control) => lesson?.Locks(control) == true;


    string StatusText => status switch
    {
        "running" => $"Running {form.Solver.DisplayName} on {form.ToSpec().BatchSize} particle{(form.ToSpec().BatchSize == 1 ? "" : "s")}…",
        "finished" => finalDistance is { } d
            ? $"Finished. Final distance to the exact {(form.MeasurementKind == ToyMeasurementKind.None ? "prior" : "posterior")}: {d.ToString("0.000", CultureInfo.InvariantCulture)}"
            : "Finished.",
        "stopped" => "Stopped.",
        "failed" => runError ?? "The run failed.",
        _ => "Pick a prior, a measurement and a solver, then press Run to watch the particles travel.",
    };

    string MeasurementExplanation => form.MeasurementKind switch
    {
        ToyMeasurementKind.ObserveX1 => "Only the horizontal coordinate is seen, with noise: y = x₁ + n. The vertical one must come from the prior, so the posterior keeps every blob that sits near x₁ = y.",
        ToyMeasurementKind.Line => "One number mixes both coordinates: y = a₁x₁ + a₂x₂ + n. The posterior lives near the dashed line, weighted by the prior.",
        _ => "Without a measurement the samplers should reproduce the prior itself; the distance compares them with exact prior samples.",
    };

    string SinglePointNote => form.ToSpec().IsSinglePoint
        ? "Here it moves a single point (it returns one answer, not samples), with the mixture as its plug-and-play denoiser."
        : "";

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender) return;
        rendered = true;
        self = DotNetObjectReference.Create(this);
        try
        {
            script = await JS.InvokeAsync<IJSObjectReference>("import", "./Features/Toy/Toy.razor.js");
            await Call("toyLab.attach", planeCanvas, readout, self);
            await Call("toyLab.setOptions", new { arrows = showArrows, trails = showTrails, posterior = true, followT, newSpread = form.NewComponentSpread });
            await PushSpecAsync();
        }
        catch (JSDisconnectedException) { }
    }

    async Task PushSpecAsync()
    {
        if (!rendered || form.Problems.Any(p => p.Field == "prior" || p.Field.StartsWith("measurement", StringComparison.Ordinal))) return;
        try
        {
            var json = form.ToSpec().ToJson();
            await Call("toyLab.setSpec", json);
            // The address follows the controls, so the setup on screen can be shared as a link.
            // A lesson's key stays in it, so a reload keeps the lesson bar.
            var lessonKey = lesson is null ? "" : "&" + Lesson.QueryKey + "=" + Uri.EscapeDataString(lesson.Id);
            Navigation.NavigateTo("/toy?spec=" + Uri.EscapeDataString(json) + lessonKey, new NavigationOptions { ReplaceHistoryEntry = true });
        }
        catch (JSDisconnectedException) { }
    }

    Task Set(Action change)
    {
        change();
        return PushSpecAsync();
    }

    Task ApplyPreset(string id) => Set(() => form.ApplyPreset(id));

    Task SelectMeasurement(ToyMeasurementKind kind) => Set(() =>
    {
        form.SelectMeasurement(kind);
        if (form.OfferedSolvers.All(s => s.Id != form.SolverId)) form.SelectSolver("ddpm");
    });

    Task SelectSolver(string id) => Set(() => form.SelectSolver(id));

    Task RemoveSelected() => Set(form.RemoveSelected);

    async Task SetNewSpread(double value)
    {
        form.NewComponentSpread = Math.Clamp(value, ToySpec.MinStandardDeviation, ToySpec.MaxStandardDeviation);
        await Options(new { newSpread = form.NewComponentSpread });
    }

    async Task SetArrowsAsync(bool value) { showArrows = value; await Options(new { arrows = value }); }
    async Task SetTrailsAsync(bool value) { showTrails = value; await Options(new { trails = value }); }
    async Task SetFollowAsync(bool value) { followT = value; await Options(new { followT = value }); }

    async Task Options(object values)
    {
        try { await Call("toyLab.setOptions", values); }
        catch (JSDisconnectedException) { }
    }

    async Task SetForwardTimeAsync(double t)
    {
        forwardT = t;
        if (status != "running") status = "idle";
        try { await Call("toyLab.setTime", t); }
        catch (JSDisconnectedException) { }
    }

    async Task PlayForwardAsync()
    {
        if (status != "running") status = "idle";
        try { await Call("toyLab.playForward", 4000); }
        catch (JSDisconnectedException) { }
    }

    async Task RunAsync()
    {
        if (form.Problems.Count > 0) return;
        status = "running";
        runError = null;
        finalDistance = null;
        try { await Call("toyLab.run", form.ToSpec().ToJson()); }
        catch (JSDisconnectedException) { }
    }

    async Task StopAsync()
    {
        status = "stopped";
        try { await Call("toyLab.stop"); }
        catch (JSDisconnectedException) { }
    }

    [JSInvokable]
    public Task OnComponentsEdited(ToyComponent[] components, int selected)
    {
        form.ReplaceComponents(components, selected);
        return InvokeAsync(async () =>
        {
            StateHasChanged();
            await PushSpecAsync();
        });
    }

    [JSInvokable]
    public Task OnTimeChanged(double t)
    {
        forwardT = Math.Round(t, 2);
        return InvokeAsync(StateHasChanged);
    }

    [JSInvokable]
    public Task OnRunEnded(string? error, double? distance)
    {
        if (status == "running")
        {
            status = error is null ? "finished" : "failed";
            runError = error;
            finalDistance = distance;
        }
        return InvokeAsync(StateHasChanged);
    }

    /// <summary>Calls the renderer once its module is loaded (a click before that has nothing to talk to yet).</summary>
    Task Call(string identifier, params object?[] arguments) =>
        script is null ? Task.CompletedTask : script.InvokeVoidAsync(identifier, arguments).AsTask();

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (rendered) await Call("toyLab.detach");
            if (script is not null) await script.DisposeAsync();
        }
        catch (JSDisconnectedException) { }
        catch (TaskCanceledException) { }
        self?.Dispose();
    }
}
