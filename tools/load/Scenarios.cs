using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace DiffusionLab.Load;

/// <summary>One line of the results table: a target of the issue, what the issue measured, what this run measured.</summary>
public sealed record ResultRow(string Target, string Goal, string Reported, string Measured, bool? Met);

public sealed class ScenarioResult(string name)
{
    public string Name { get; } = name;
    public List<ResultRow> Rows { get; } = [];
    public List<string> Details { get; } = [];

    public void Say(string line)
    {
        Details.Add(line);
        Console.WriteLine($"  {line}");
    }
}

public sealed class Scenarios(Settings settings)
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>A DPS run on the lab's default prior and image, with a seed of its own (so no two runs are the same work).</summary>
    string Spec(int seed) => settings.SpecTemplate.Replace("{steps}", settings.Steps.ToString(Invariant)).Replace("{seed}", seed.ToString(Invariant));

    // ---- 1. students ---------------------------------------------------------------------------

    public async Task<ScenarioResult> StudentsAsync(LabServer server, CancellationToken cancellation)
    {
        var result = new ScenarioResult("students");
        var outcomes = await ClassStartsAsync(server, settings.Students, null, result, cancellation);
        var first = outcomes.Select(o => o.FirstFrame).ToList();
        var final = outcomes.Select(o => o.FinalFrame).ToList();
        result.Say($"{settings.Students} students, one {settings.Steps}-step DPS run each, started at once:");
        result.Say($"first frame p50 {Seconds(Percentile(first, 50))}, p95 {Seconds(Percentile(first, 95))}; final frame p50 {Seconds(Percentile(final, 50))}, p95 {Seconds(Percentile(final, 95))}");
        result.Say(Missing(outcomes));
        var p95 = Percentile(first, 95);
        result.Rows.Add(new($"{settings.Students} students start one {settings.Steps}-step DPS run at once: first frame p95", "≤ 2 s",
            "p50 13.2 s, p95 26.9 s",
            $"p50 {Seconds(Percentile(first, 50))}, p95 {Seconds(p95)} (final frame p50 {Seconds(Percentile(final, 50))}, p95 {Seconds(Percentile(final, 95))}){MissingShort(outcomes)}",
            p95 is { } p && p <= 2));
        return result;
    }

    // ---- 2. greedy -----------------------------------------------------------------------------

    public async Task<ScenarioResult> GreedyAsync(LabServer server, CancellationToken cancellation)
    {
        var result = new ScenarioResult("greedy");
        int students = settings.Students - 1;
        if (students < 1) throw new InvalidOperationException("greedy needs --students 2 or more (the class less the greedy client)");
        var alone = await ClassStartsAsync(server, students, null, result, cancellation);
        var aloneMedian = Percentile(alone.Select(o => o.FirstFrame).ToList(), 50);
        result.Say($"{students} students alone: median wait to first frame {Seconds(aloneMedian)}; {Missing(alone)}");
        await Task.Delay(TimeSpan.FromSeconds(3), cancellation);

        var withGreedy = await ClassStartsAsync(server, students, settings.GreedyRuns, result, cancellation);
        var greedyMedian = Percentile(withGreedy.Select(o => o.FirstFrame).ToList(), 50);
        result.Say($"{students} students beside a client starting {settings.GreedyRuns}: median wait to first frame {Seconds(greedyMedian)}; {Missing(withGreedy)}");
        double? ratio = aloneMedian is { } a && greedyMedian is { } g && a > 0 ? g / a : null;
        string measured = ratio is { } r
            ? $"{r.ToString("0.00", Invariant)}× ({Seconds(greedyMedian)} vs {Seconds(aloneMedian)} alone){MissingShort(withGreedy)}"
            : $"no median: {Seconds(greedyMedian)} vs {Seconds(aloneMedian)} alone{MissingShort(withGreedy)}";
        result.Rows.Add(new($"{students} students + one client starting {settings.GreedyRuns}: students' median wait to first frame, vs without it", "≤ 1.2×",
            "the client took every slot (8 running + 32 queued); everyone else was told \"The lab is busy\"",
            measured, ratio is { } x && x <= 1.2));
        return result;
    }

    /// <summary>
    /// <paramref name="count"/> students, each its own browser, start one run at the same instant and
    /// read it to the end; with <paramref name="greedyRuns"/>, one more browser first asks for that
    /// many runs on one connection (and keeps them until the students are done).
    /// </summary>
    async Task<List<RunOutcome>> ClassStartsAsync(LabServer server, int count, int? greedyRuns, ScenarioResult result, CancellationToken cancellation)
    {
        var browsers = await Browser.OpenManyAsync(server.BaseAddress, count + (greedyRuns is null ? 0 : 1), cancellation);
        if (browsers.Any(b => !b.HasCookie)) result.Say("note: the server gave some browsers no id cookie");
        var hubs = new List<HubConnection>();
        try
        {
            foreach (var browser in browsers) hubs.Add(await browser.ConnectAsync("hubs/runs", cancellation));
            if (greedyRuns is { } many)
            {
                var greedy = hubs[^1];
                hubs.RemoveAt(hubs.Count - 1);
                hubs.Insert(0, greedy);
                int accepted = 0, refused = 0;
                string? firstRefusal = null;
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < many && !cancellation.IsCancellationRequested; i++)
                {
                    try
                    {
                        var reply = await greedy.InvokeAsync<StartRunReply>("StartRun", Spec(10_000 + i), cancellation);
                        if (reply.RunId is null) { refused++; firstRefusal ??= string.Join(" ", reply.Problems.Values); }
                        else accepted++;
                    }
                    catch (HubException e) { refused++; firstRefusal ??= e.Message; }
                }
                result.Say($"greedy client: {accepted} of {many} starts accepted, {refused} refused in {clock.Elapsed.TotalSeconds.ToString("0.0", Invariant)} s{(firstRefusal is null ? "" : $" (first refusal: \"{firstRefusal}\")")}");
            }
            var students = greedyRuns is null ? hubs : hubs.Skip(1).ToList();
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var runs = students.Select((hub, i) => Task.Run(async () =>
            {
                await go.Task;
                return await LabRuns.RunAsync(hub, Spec(i + 1), settings.RunTimeout, cancellation);
            })).ToList();
            go.SetResult();
            var outcomes = (await Task.WhenAll(runs)).ToList();
            var refusals = outcomes.Where(o => o.Refused).GroupBy(o => o.Refusal).Select(g => $"{g.Count()}× \"{g.Key}\"").ToList();
            if (refusals.Count > 0) result.Say("students refused: " + string.Join("; ", refusals));
            return outcomes;
        }
        finally
        {
            // Closing a connection stops the runs it started: nothing of this measurement is left running.
            foreach (var hub in hubs) await hub.DisposeAsync();
            foreach (var browser in browsers) browser.Dispose();
        }
    }

    // ---- 3. soak -------------------------------------------------------------------------------

    public async Task<ScenarioResult> SoakAsync(LabServer server, CancellationToken cancellation)
    {
        var result = new ScenarioResult("soak");
        var baseline = await WarmBaselineAsync(server, result, cancellation);
        result.Say($"warm baseline: resident {Megabytes(baseline)}");
        double? previous = baseline;
        for (int wave = 1; wave <= settings.SoakWaves; wave++)
        {
            var (peak, after) = await SoakWaveAsync(server, wave, result, cancellation);
            var minutes = $"{settings.SoakDuration.TotalMinutes.ToString("0.#", Invariant)} min, then {settings.IdleAfter.TotalMinutes.ToString("0.#", Invariant)} min idle";
            double? growth = after - baseline;
            if (wave == 1)
                result.Rows.Add(new($"{settings.SoakClients} clients for {minutes}: resident memory vs warm baseline", "≤ +100 MB",
                    "baseline 329 MB, peak 591 MB, 600 MB after (+271 MB; 30 clients for 5 min)",
                    $"baseline {Megabytes(baseline)}, peak {Megabytes(peak)}, {Megabytes(after)} after ({Signed(growth)})",
                    growth is { } d ? d <= 100 : null));
            else
                result.Rows.Add(new($"… wave {wave} of the same ({minutes}): resident memory vs warm baseline", "≤ +100 MB",
                    "a second wave: peak 766 MB, 668 MB after",
                    $"from {Megabytes(previous)}: peak {Megabytes(peak)}, {Megabytes(after)} after ({Signed(growth)} vs baseline, {Signed(after - previous)} vs the wave before)",
                    growth is { } d ? d <= 100 : null));
            previous = after;
        }
        return result;
    }

    /// <summary>One wave: <see cref="Settings.SoakClients"/> browsers run back to back for the soak's minutes, then nothing for the idle minutes.</summary>
    async Task<(double? Peak, double? After)> SoakWaveAsync(LabServer server, int wave, ScenarioResult result, CancellationToken cancellation)
    {
        using var monitor = new MemoryMonitor(server);
        var browsers = await Browser.OpenManyAsync(server.BaseAddress, settings.SoakClients, cancellation);
        int finished = 0, refused = 0;
        var clock = Stopwatch.StartNew();
        using (var soak = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
        {
            soak.CancelAfter(settings.SoakDuration);
            var clients = browsers.Select((browser, i) => Task.Run(async () =>
            {
                HubConnection? hub = null;
                try
                {
                    hub = await browser.ConnectAsync("hubs/runs", soak.Token);
                    for (int k = 0; !soak.IsCancellationRequested; k++)
                    {
                        var outcome = await LabRuns.RunAsync(hub, Spec(100_000 * wave + 1000 * i + k), settings.RunTimeout, soak.Token);
                        if (outcome.Refused) { Interlocked.Increment(ref refused); await Task.Delay(2000, soak.Token); }
                        else if (outcome.FinalFrame is not null) Interlocked.Increment(ref finished);
                    }
                }
                catch (OperationCanceledException) { }
                finally
                {
                    if (hub is not null) await hub.DisposeAsync();
                }
            })).ToList();
            await Task.WhenAll(clients);
        }
        foreach (var browser in browsers) browser.Dispose();
        var peak = monitor.Peak;
        var label = settings.SoakWaves > 1 ? $"wave {wave}: " : "";
        result.Say($"{label}{settings.SoakClients} clients ran {settings.Steps}-step runs back to back for {clock.Elapsed.TotalMinutes.ToString("0.0", Invariant)} min: {finished} runs finished, {refused} starts refused; peak {Megabytes(peak)}");
        result.Say($"idle {settings.IdleAfter.TotalMinutes.ToString("0.#", Invariant)} min ...");
        await Task.Delay(settings.IdleAfter, cancellation);
        var after = server.ResidentMegabytes();
        result.Say($"{label}resident memory: peak {Megabytes(peak)}, {settings.IdleAfter.TotalMinutes.ToString("0.#", Invariant)} min after {Megabytes(after)}");
        return (peak, after);
    }

    /// <summary>Resident memory once the server has done a little of everything (a page, a run, a 2-D scene) and settled.</summary>
    async Task<double?> WarmBaselineAsync(LabServer server, ScenarioResult result, CancellationToken cancellation)
    {
        using var browser = await Browser.OpenAsync(server.BaseAddress, cancellation);
        await using (var hub = await browser.ConnectAsync("hubs/runs", cancellation))
        {
            var warm = await LabRuns.RunAsync(hub, Spec(0), settings.RunTimeout, cancellation);
            result.Say(warm.FinalFrame is { } f ? $"warm-up run: {Seconds(f.TotalSeconds)} alone" : $"warm-up run did not finish: {warm.Refusal ?? "timeout"}");
        }
        await using (var toy = await browser.ConnectAsync("hubs/toy", cancellation))
            await toy.InvokeAsync<ToyScene>("Scene", ToySceneSpec(0), 0.0, cancellation);
        await Task.Delay(TimeSpan.FromSeconds(5), cancellation);
        return server.ResidentMegabytes();
    }

    // ---- 4. scene ------------------------------------------------------------------------------

    public async Task<ScenarioResult> SceneAsync(LabServer server, CancellationToken cancellation)
    {
        var result = new ScenarioResult("scene");
        var baseline = await WarmBaselineAsync(server, result, cancellation);
        using var monitor = new MemoryMonitor(server);
        using var labBrowser = await Browser.OpenAsync(server.BaseAddress, cancellation);
        await using var lab = await labBrowser.ConnectAsync("hubs/runs", cancellation);
        var progress = new StepCounter();

        // One lab run after another for the whole scenario, counting the steps that arrive.
        using var stopLab = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var labLoop = Task.Run(async () =>
        {
            for (int k = 0; !stopLab.IsCancellationRequested; k++)
            {
                int previous = -1;
                var outcome = await LabRuns.RunAsync(lab, Spec(500 + k), settings.RunTimeout, stopLab.Token, frame =>
                {
                    progress.Add(frame.Step - previous);
                    previous = frame.Step;
                });
                if (outcome.Refused && !stopLab.IsCancellationRequested) await Task.Delay(1000, stopLab.Token).ContinueWith(_ => { });
            }
        });

        try
        {
            await progress.FirstStepAsync(settings.RunTimeout, cancellation);
            await Task.Delay(TimeSpan.FromSeconds(3), cancellation);
            double alone = await progress.RateOverAsync(settings.SceneWindow, cancellation);
            var before = server.ResidentMegabytes();
            result.Say($"lab run alone: {alone.ToString("0.0", Invariant)} steps/s; resident {Megabytes(before)}");

            var browsers = await Browser.OpenManyAsync(server.BaseAddress, settings.SceneConnections, cancellation);
            long calls = 0, failures = 0;
            string? firstFailure = null;
            using var stopScenes = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
            var loops = browsers.Select((browser, i) => Task.Run(async () =>
            {
                HubConnection? toy = null;
                try
                {
                    toy = await browser.ConnectAsync("hubs/toy", stopScenes.Token);
                    for (int k = i; !stopScenes.IsCancellationRequested; k++)
                    {
                        try
                        {
                            var scene = await toy.InvokeAsync<ToyScene>("Scene", ToySceneSpec(k % 50), 0.0, stopScenes.Token);
                            if (scene.Problems.Length > 0) throw new HubException(string.Join(" ", scene.Problems));
                            Interlocked.Increment(ref calls);
                        }
                        catch (HubException e)
                        {
                            Interlocked.Increment(ref failures);
                            Interlocked.CompareExchange(ref firstFailure, e.Message, null);
                        }
                        if (toy.State != HubConnectionState.Connected) break;
                    }
                }
                catch (OperationCanceledException) { }
                finally
                {
                    if (toy is not null) await toy.DisposeAsync();
                }
            })).ToList();

            await Task.Delay(TimeSpan.FromSeconds(3), cancellation);
            double during = await progress.RateOverAsync(settings.SceneWindow, cancellation);
            var peak = monitor.Peak;
            long callsDuring = Interlocked.Read(ref calls);
            stopScenes.Cancel();
            await Task.WhenAll(loops);
            foreach (var browser in browsers) browser.Dispose();
            result.Say($"with {settings.SceneConnections} connections looping Scene: {during.ToString("0.0", Invariant)} steps/s; {callsDuring} Scene answers, {Interlocked.Read(ref failures)} refused{(firstFailure is null ? "" : $" (\"{firstFailure}\")")}; peak resident {Megabytes(peak)}");

            double after = await progress.RateOverAsync(settings.SceneWindow, cancellation);
            await Task.Delay(settings.SceneSettle, cancellation);
            var left = server.ResidentMegabytes();
            result.Say($"after they left: {after.ToString("0.0", Invariant)} steps/s; resident {Megabytes(left)} {settings.SceneSettle.TotalSeconds.ToString("0", Invariant)} s later (warm baseline {Megabytes(baseline)})");

            double? slowdown = during > 0 ? alone / during : null;
            result.Rows.Add(new($"{settings.SceneConnections} connections looping Scene beside a lab run: slowdown of the run", "≤ 2×",
                "73 → 9 steps/s (8.1×)",
                slowdown is { } s ? $"{alone.ToString("0.0", Invariant)} → {during.ToString("0.0", Invariant)} steps/s ({s.ToString("0.0", Invariant)}×)" : $"{alone.ToString("0.0", Invariant)} → 0 steps/s (stalled)",
                slowdown is { } x && x <= 2));
            result.Rows.Add(new("… and memory after they leave", "returns",
                "0.8 → 2.3–2.75 GB, stayed after they left",
                $"{Megabytes(before)} → peak {Megabytes(peak)} → {Megabytes(left)} {settings.SceneSettle.TotalSeconds.ToString("0", Invariant)} s after ({Signed(left - before)})",
                left - before is { } d ? d <= 100 : null));
        }
        finally
        {
            stopLab.Cancel();
            await labLoop.ContinueWith(_ => { });
        }
        return result;
    }

    /// <summary>
    /// The 2-D lab's ring preset (eight components) with x₁ observed, one component moved by
    /// <paramref name="drag"/> hundredths: a student dragging a component, each position a new spec.
    /// </summary>
    static string ToySceneSpec(int drag)
    {
        var components = Enumerable.Range(0, 8).Select(k =>
        {
            double x = 2.5 * Math.Cos(2 * Math.PI * k / 8) + (k == 0 ? drag / 100.0 : 0), y = 2.5 * Math.Sin(2 * Math.PI * k / 8);
            return string.Create(Invariant, $"{{\"weight\":1,\"x\":{x:0.######},\"y\":{y:0.######},\"standardDeviation\":0.25}}");
        });
        return $"{{\"components\":[{string.Join(',', components)}],\"solverId\":\"dps\",\"parameters\":{{}},\"steps\":250," +
               "\"measurement\":{\"kind\":\"observeX1\",\"a1\":1,\"a2\":0,\"y\":1.5,\"sigmaY\":0.2},\"particles\":1000,\"seed\":0}";
    }

    // ---- figures -------------------------------------------------------------------------------

    /// <summary>Nearest-rank percentile; a run that never got there counts as longer than any that did (null: the percentile is among those).</summary>
    static double? Percentile(List<TimeSpan?> values, double percent)
    {
        if (values.Count == 0) return null;
        var sorted = values.Select(v => v?.TotalSeconds ?? double.PositiveInfinity).Order().ToList();
        var value = sorted[Math.Clamp((int)Math.Ceiling(percent / 100 * sorted.Count) - 1, 0, sorted.Count - 1)];
        return double.IsPositiveInfinity(value) ? null : value;
    }

    string Missing(List<RunOutcome> outcomes)
    {
        int refused = outcomes.Count(o => o.Refused), noFrame = outcomes.Count(o => !o.Refused && o.FirstFrame is null), unfinished = outcomes.Count(o => !o.Refused && o.FinalFrame is null);
        var errors = outcomes.Where(o => o.StreamError is not null).GroupBy(o => o.StreamError).Select(g => $"{g.Count()}× \"{g.Key}\"").ToList();
        return $"{outcomes.Count - refused} of {outcomes.Count} started, {refused} refused, {noFrame} got no frame and {unfinished} did not finish within {settings.RunTimeout.TotalSeconds.ToString("0", Invariant)} s"
               + (errors.Count > 0 ? "; frame streams broke: " + string.Join("; ", errors) : "");
    }

    string MissingShort(List<RunOutcome> outcomes)
    {
        int refused = outcomes.Count(o => o.Refused), unfinished = outcomes.Count(o => !o.Refused && o.FinalFrame is null);
        return refused + unfinished == 0 ? "" : $"; {refused} refused, {unfinished} unfinished in {settings.RunTimeout.TotalSeconds.ToString("0", Invariant)} s";
    }

    static string Seconds(double? seconds) => seconds is { } s ? s.ToString("0.0", Invariant) + " s" : "never";
    static string Megabytes(double? mb) => mb is { } m ? m.ToString("0", Invariant) + " MB" : "n/a";
    static string Signed(double? mb) => mb is { } m ? (m >= 0 ? "+" : "") + m.ToString("0", Invariant) + " MB" : "n/a";
}

/// <summary>Steps of the lab run that reached this client, for steps per second over a window.</summary>
sealed class StepCounter
{
    long steps;
    readonly TaskCompletionSource first = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Add(int count)
    {
        Interlocked.Add(ref steps, Math.Max(0, count));
        first.TrySetResult();
    }

    public Task FirstStepAsync(TimeSpan timeout, CancellationToken cancellation) => first.Task.WaitAsync(timeout, cancellation);

    public async Task<double> RateOverAsync(TimeSpan window, CancellationToken cancellation)
    {
        long start = Interlocked.Read(ref steps);
        var clock = Stopwatch.StartNew();
        await Task.Delay(window, cancellation);
        return (Interlocked.Read(ref steps) - start) / clock.Elapsed.TotalSeconds;
    }
}

/// <summary>The server's resident memory sampled twice a second; the peak since it was made.</summary>
sealed class MemoryMonitor : IDisposable
{
    readonly CancellationTokenSource stop = new();
    double? peak;

    public MemoryMonitor(LabServer server)
    {
        peak = server.ResidentMegabytes();
        _ = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (server.ResidentMegabytes() is { } now) lock (stop) peak = Math.Max(peak ?? 0, now);
                try { await Task.Delay(500, stop.Token); } catch (OperationCanceledException) { }
            }
        });
    }

    public double? Peak { get { lock (stop) return peak; } }

    public void Dispose() => stop.Cancel();
}
