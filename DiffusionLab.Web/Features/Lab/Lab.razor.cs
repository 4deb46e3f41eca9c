using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Web.Features.Learn;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Uploads;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;
using MudBlazor;
using System.Collections.Immutable;

namespace DiffusionLab.Web.Features.Lab;

/// <summary>
/// The lab page: binds a <see cref="LabForm"/> to the URL, previews y as the controls move,
/// starts and stops runs through <see cref="ILiveRuns"/>, and hands the run to its
/// <see cref="FramePlayer"/>, which receives the frames over the hub itself and draws them with
/// their step, t and metrics. The page re-renders its progress and charts at most a few times a
/// second, whatever the solver's pace.
/// </summary>
public partial class Lab
{
    static readonly TimeSpan RefreshInterval = TimeSpan.FromMilliseconds(200);
    static readonly TimeSpan PreviewDebounce = TimeSpan.FromMilliseconds(150);

    /// <summary>This browser's id (BrowserIdentity): the owner of the runs it starts.</summary>
    [CascadingParameter(Name = "Browser")] public string? Browser { get; set; }
    [Inject] LabCatalog Catalog { get; set; } = default!;
    [Inject] ILiveRuns Runs { get; set; } = default!;
    [Inject] CircuitWork Work { get; set; } = default!;
    [Inject] MeasurementPreview Preview { get; set; } = default!;
    [Inject] IUploadStore Uploads { get; set; } = default!;
    [Inject] StartAndUploadLimits Limits { get; set; } = default!;
    [Inject] NavigationManager Navigation { get; set; } = default!;
    [Inject] IJSRuntime JS { get; set; } = default!;
    [Inject] ISnackbar Snackbar { get; set; } = default!;

    LabForm form = default!;
    Lesson? lesson; // the lesson this page was opened for (lesson=<id>), which may hide or fix some controls

    bool Hides(string control) => lesson?.Hides(control) == true;
    bool Locks(string control) => lesson?.Locks(control) == true;
    LabRun? run;
    ExperimentSpec? shownSpec; // the controls as they were when the run on screen started
    bool stoppedByChange;
    ProblemPictures? naive; // the yardstick shown: the run's once it is prepared, else the preview's
    PanelLabels labels = PanelLabels.For(null);
    readonly HashSet<int> openCards = [];
    IReadOnlyList<StepRecord> metrics = [];
    List<string> runProblems = [];
    string? groundTruthUrl, measurementUrl;
    IReadOnlyList<string> linkNotes = [];
    bool rendered, playing, runChanged, scrubberAppeared;
    int keyframeCount, scrubIndex;
    FramePlayer player = default!;
    IJSObjectReference? page; // Lab.razor.js: the address bar and the clipboard
    CancellationTokenSource? previewCancellation;
    PeriodicTimer? refreshTimer;
    CancellationTokenSource lifetime = new();

    bool CanRun => Catalog.Operators.Count > 0 && Catalog.Solvers.Count > 0;
    bool IsRunning => run is { IsOver: false };
    bool IsOver => run is { IsOver: true };
    bool IsFinished => run is { Status: RunStatus.Finished };
    int TotalSteps => run?.Latest?.Total ?? Math.Max(1, form.Spec.Steps);

    string PageSubtitle => form.SolverDescriptor?.DisplayName ?? "lab";
    string ResultCaption => IsFinished ? $"Result {labels.Estimate}" : $"Current result ({labels.Estimate}, large)";

    /// <summary>The run on screen was made with other settings than the controls show: its pictures and numbers are dimmed and say so.</summary>
    bool IsStale => shownSpec is not null && !shownSpec.Equals(form.Spec);
    bool StoppedByChange => stoppedByChange && run is { Status: RunStatus.Cancelled };
    string StaleClass => IsStale ? "stale" : "";
    string StaleAttribute => IsStale ? "true" : "false";
    string MeasurementNote => IsStale ? "(new settings)" : "";

    static readonly ImmutableArray<string> CardTitles = ["Image", "Corruption", "Solver"];
    static readonly ImmutableArray<string> CardIds = ["image", "corruption", "solver"]; // the names a lesson hides or locks

    /// <summary>On a phone the three cards fold to one line each (CSS), so Run is in reach; a tap opens one.</summary>
    bool IsOpen(int card) => openCards.Contains(card);
    void ToggleCard(int card)
    {
        if (!openCards.Remove(card)) openCards.Add(card);
    }
    string CardClass(int card) => IsOpen(card) ? "lab-card lab-control-card open" : "lab-card lab-control-card";

    /// <summary>What each folded card shows: the choice it holds.</summary>
    string CardSummary(int card) => card switch
    {
        0 => Catalog.Images(form.Spec.Prior).FirstOrDefault(i => i.Reference == form.Spec.Image)?.Label ?? (form.IsUploadedImage ? "your upload" : form.Spec.Image),
        1 => form.CorruptionDescriptor?.DisplayName ?? form.Spec.Corruption,
        _ => $"{form.SolverDescriptor?.DisplayName ?? form.Spec.Solver}, {form.Spec.Steps} steps",
    };

    string NaiveSymbol => naive?.NaivePng is null ? "" : naive.NaiveName.StartsWith("A⁺y", StringComparison.Ordinal) ? "A⁺y" : "y";
    /// <summary>The yardstick beside the result's numbers is the result's own problem's (the panel above may already show the new settings').</summary>
    ProblemPictures? ResultYardstick => run?.Problem ?? naive;
    double NaivePsnr => ResultYardstick?.NaivePsnr ?? double.NaN;
    double NaiveSsim => ResultYardstick?.NaiveSsim ?? double.NaN;
    string NaivePsnrText => double.IsFinite(NaivePsnr) ? NumberText.Fixed(NaivePsnr, 2) + " dB" : double.IsPositiveInfinity(NaivePsnr) ? "exact" : "none";
    string NaiveSsimText => double.IsFinite(NaiveSsim) ? NumberText.Fixed(NaiveSsim, 3) : "none";

    /// <summary>The run's x0 for the player's error map |x̂0 − x0| (the run's own, never the new settings').</summary>
    IReadOnlyDictionary<string, byte[]?> PlayerStills => new Dictionary<string, byte[]?> { ["truth"] = run?.GroundTruthPng };

    string ComparePath => "/compare?" + form.Spec.ToQueryString();
    string DiversityPath => "/diversity?" + form.Spec.ToQueryString();
    string? PresentPath => run is null ? null : $"/watch/{run.Id}?presenter=1";
    string StatusKey => run?.Status.ToString().ToLowerInvariant() ?? "idle";
    double ProgressPercent => run?.Latest is { } frame ? 100.0 * (frame.Step + 1) / frame.Total : 0;

    /// <summary>The run's state in words; the step shown and its t follow it (<see cref="ShowsStep"/>), written by the player.</summary>
    string StatusText => run switch
    {
        null => "Choose an image, a corruption and a solver, then press Run.",
        { Status: RunStatus.Queued } r => $"Waiting for a free slot: position {r.QueuePosition} in the queue{QueueEstimate(r)}.",
        { Status: RunStatus.Preparing } => "Preparing the measurement…",
        { Status: RunStatus.Running, Latest: not null } => "Running:",
        { Status: RunStatus.Running } => "Starting…",
        { Status: RunStatus.Finished } => "Finished:",
        { Status: RunStatus.Cancelled } => "Stopped:",
        { Status: RunStatus.Failed } r => r.Error ?? "The run failed.",
        _ => "",
    };

    /// <summary>Where saving the finished run stands, in words (null while nothing is to be saved).</summary>
    string? SaveText => run is null ? null : SaveNotes.Text(run.Saving, run.SaveProblem, "run");

    bool ShowsStep => run is { Latest: not null, Status: RunStatus.Running or RunStatus.Finished or RunStatus.Cancelled };

    IReadOnlyList<LabRun> LiveRuns => run is null ? [] : [run];

    IReadOnlyList<ChartSeries> ResidualSeries => [Series("residual", "#3b4bd8", p => p.Residual)];
    IReadOnlyList<ChartSeries> PsnrSeries => [Series("PSNR", "#d6336c", p => p.Psnr)];
    IReadOnlyList<ChartSeries> SsimSeries => [Series("SSIM", "#0c8a5f", p => p.Ssim)];
    IReadOnlyList<ChartSeries> EssSeries => [Series("ESS", "#e8590c", p => p.Ess)];

    /// <summary>A sequential Monte Carlo run reports its particles' effective sample size; other solvers have none.</summary>
    bool ShowsEss => run?.Latest is { Ess: var ess } && double.IsFinite(ess);

    ChartSeries Series(string name, string color, Func<StepRecord, double> value) =>
        new(name, color, metrics.Select(p => (double)p.Step).ToList(), metrics.Select(value).ToList());

    protected override void OnInitialized()
    {
        form = new LabForm(Catalog);
        var query = new Uri(Navigation.Uri).Query;
        linkNotes = form.LoadLink(query, Uploads.AvailableTo(Browser));
        lesson = Lessons.Find(Lessons.IdIn(query));
        form.Changed += OnFormChanged;
        labels = PanelLabels.For(form.SolverDescriptor);
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (scrubberAppeared)
        {
            scrubberAppeared = false;
            try { await player.ShowKeyframeAsync(scrubIndex); }
            catch (JSDisconnectedException) { }
        }
        if (!firstRender) return;
        try
        {
            page = await JS.InvokeAsync<IJSObjectReference>("import", "./Features/Lab/Lab.razor.js");
        }
        catch (JSDisconnectedException) { return; }
        rendered = true;
        await SyncUrlAsync();
        _ = RefreshPreviewAsync();
        _ = RefreshLoopAsync();
    }

    void OnFormChanged(string field)
    {
        runProblems = [];
        // A change during a run stops it: its frames would otherwise land beside a y they did not come from.
        if (run is { IsOver: false } && IsStale)
        {
            stoppedByChange = true;
            Runs.Stop(run.Id);
        }
        if (!IsStale) labels = PanelLabels.For(form.SolverDescriptor);
        _ = SyncUrlAsync();
        _ = RefreshPreviewAsync();
        StateHasChanged();
    }

    async Task SyncUrlAsync()
    {
        if (!rendered) return;
        try
        {
            // The address keeps the lesson beside the spec, so a reload stays in the lesson.
            var lessonPart = lesson is null ? "" : $"&{Lesson.QueryKey}={Uri.EscapeDataString(lesson.Id)}";
            await page!.InvokeVoidAsync("setQuery", form.Spec.ToQueryString() + lessonPart);
        }
        catch (JSDisconnectedException) { }
    }

    async Task RefreshPreviewAsync()
    {
        previewCancellation?.Cancel();
        var cancellation = previewCancellation = new CancellationTokenSource();
        try
        {
            await Task.Delay(PreviewDebounce, cancellation.Token);
            var spec = form.Spec;
            var (images, _) = await Preview.RenderAsync(spec, cancellation.Token);
            if (cancellation.IsCancellationRequested || images is null || (IsRunning && !IsStale)) return;
            groundTruthUrl = DataUrl(images.GroundTruthPng);
            measurementUrl = DataUrl(images.MeasurementPng);
            naive = images;
            await InvokeAsync(StateHasChanged);
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>What an image panel says before its picture exists: nothing while it is on its way, a hint while the settings are wrong.</summary>
    string PreviewPendingText => form.HasErrors ? "appears once the settings are valid" : "";

    static string DataUrl(byte[] png) => "data:image/png;base64," + Convert.ToBase64String(png);

    async Task RunAsync()
    {
        runProblems = [];
        if (form.HasErrors) return;
        await StopPlayingAsync();
        DetachRun();
        if (Limits.RefuseStart(LabLimits.PartitionKey(Browser, null)) is { } refusal)
        {
            runProblems = [refusal];
            return;
        }
        var (started, problems) = Runs.Start(form.Spec, owner: Browser);
        if (started is null)
        {
            runProblems = problems.Select(p => p.Message).ToList();
            return;
        }
        run = started;
        shownSpec = form.Spec;
        stoppedByChange = false;
        labels = PanelLabels.For(form.SolverDescriptor);
        Work.Add(() => started.IsOver, () => Runs.Stop(started.Id)); // ends with the circuit, even one whose browser vanished
        metrics = [];
        keyframeCount = 0;
        scrubIndex = 0;
        run.Changed += OnRunChanged; // the player follows it from the next render on (LiveRuns)
    }

    async Task StopAsync()
    {
        if (run is not null) Runs.Stop(run.Id);
        await Task.CompletedTask;
    }

    async Task CopyShareLinkAsync()
    {
        var spec = form.Spec;
        var link = Navigation.BaseUri + "?" + spec.ToQueryString();
        if (page is not null) await page.InvokeVoidAsync("copyText", link);
        Snackbar.Add(ShareMessage(form.IsUploadedImage, shownSpec, spec), Severity.Info);
    }

    /// <summary>How long the wait may be: the runs ahead, each about as long as this one's steps at the server's recent pace.</summary>
    string QueueEstimate(LabRun queued) => Runs.EstimateWait(queued) is { } wait
        ? $", about {NumberText.Duration(wait)}"
        : "";

    /// <summary>The address where others follow the current run live (and its frames so far): /watch/{id}.</summary>
    string? WatchPath => run is null ? null : "/watch/" + run.Id;

    async Task CopyWatchLinkAsync()
    {
        if (WatchPath is not { } path) return;
        if (page is not null) await page.InvokeVoidAsync("copyText", Navigation.BaseUri.TrimEnd('/') + path);
        Snackbar.Add(run!.IsOver
            ? "Watch link copied. This run has ended: the link shows that and points to its saved replay."
            : "Watch link copied: whoever opens it sees this run live, with the steps so far; it cannot stop or change the run. Add ?presenter=1 for a projector.",
            Severity.Info);
    }

    /// <summary>What "Copy link" says: the link holds the controls as they are now, which may no longer be the run on screen.</summary>
    internal static string ShareMessage(bool uploadedImage, ExperimentSpec? shownRun, ExperimentSpec controls) =>
        uploadedImage ? "Link copied. It cannot carry your uploaded image: whoever opens it gets a gallery image."
        : shownRun is not null && !shownRun.Equals(controls)
            ? "Link copied: it holds the controls as they are now, changed since the run on screen (dimmed, from the previous settings); Run shows their result."
            : shownRun is not null
                ? "Link copied: it restores every control, and Run with the same seed reproduces this result."
                : "Link copied: it restores every control.";

    void OnRunChanged(LabRun changed) => runChanged = true;

    /// <summary>Re-renders progress, numbers and charts a few times a second while a run changes.</summary>
    async Task RefreshLoopAsync()
    {
        refreshTimer = new PeriodicTimer(RefreshInterval);
        try
        {
            while (await refreshTimer.WaitForNextTickAsync(lifetime.Token))
            {
                if (!runChanged || run is null) continue;
                runChanged = false;
                await InvokeAsync(async () =>
                {
                    metrics = run.MetricsSnapshot();
                    if (run.Problem is { } problem && !IsStale)
                    {
                        groundTruthUrl = DataUrl(problem.GroundTruthPng);
                        measurementUrl = DataUrl(problem.MeasurementPng);
                        naive = problem;
                    }
                    if (run.IsOver && keyframeCount == 0)
                    {
                        keyframeCount = await player.LoadKeyframesAsync(run.Id);
                        scrubIndex = Math.Max(0, keyframeCount - 1);
                        scrubberAppeared = keyframeCount > 0; // its readouts are filled once it is on the page
                    }
                    StateHasChanged();
                });
            }
        }
        catch (OperationCanceledException) { }
        catch (JSDisconnectedException) { }
        catch (ObjectDisposedException) { }
    }

    async Task ScrubToAsync(int index)
    {
        scrubIndex = index;
        await player.ShowKeyframeAsync(index);
    }

    async Task TogglePlayAsync()
    {
        if (playing)
        {
            await StopPlayingAsync();
            return;
        }
        playing = true;
        if (scrubIndex >= keyframeCount - 1) scrubIndex = 0;
        _ = PlayAsync();
    }

    async Task PlayAsync()
    {
        try
        {
            while (playing && scrubIndex < keyframeCount - 1 && !lifetime.IsCancellationRequested)
            {
                await InvokeAsync(() => ScrubToAsync(scrubIndex + 1));
                await InvokeAsync(StateHasChanged);
                await Task.Delay(100, lifetime.Token);
            }
        }
        catch (OperationCanceledException) { }
        catch (JSDisconnectedException) { }
        playing = false;
        await InvokeAsync(StateHasChanged);
    }

    Task StopPlayingAsync()
    {
        playing = false;
        return Task.CompletedTask;
    }

    void DetachRun()
    {
        if (run is null) return;
        run.Changed -= OnRunChanged;
        if (!run.IsOver) Runs.Stop(run.Id);
    }

    /// <summary>A closed tab or a navigation away ends the circuit: stop the run so its memory is freed.</summary>
    public async ValueTask DisposeAsync()
    {
        lifetime.Cancel();
        form.Changed -= OnFormChanged;
        DetachRun();
        previewCancellation?.Cancel();
        refreshTimer?.Dispose();
        try
        {
            if (page is not null) await page.DisposeAsync();
        }
        catch (JSDisconnectedException) { }
        catch (TaskCanceledException) { }
    }
}
