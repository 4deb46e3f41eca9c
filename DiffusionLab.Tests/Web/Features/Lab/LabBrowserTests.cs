using DiffusionLab.Web.Runs;
using Microsoft.Playwright;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace DiffusionLab.Tests.Web;

/// <summary>The lab in a real browser (Debian's Chromium), against the app on Kestrel.</summary>
public sealed class LabBrowserTests(BrowserFixture browser, ITestOutputHelper output) : IClassFixture<BrowserFixture>
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Box_inpainting_with_DPS_streams_frames_to_the_canvas_and_ends_with_the_final_PSNR()
    {
        // The bundled UNet, not the fast mixture prior: 60 DPS steps then take a second or two, so
        // the canvas is seen changing even on a fast machine (on the mixture the whole run could
        // fit between two looks at the canvas).
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?prior=pixel-faces-32&op=denoise&noise=gaussian&sigmaY=0.05&solver=ddim&steps=20&seed=5");
        await WaitForInteractiveAsync(page);

        await ChooseAsync(page, "corruption-select", "Box inpainting");
        await ChooseAsync(page, "solver-select", "Diffusion posterior sampling (DPS)");
        // Choosing DPS resets steps to its default; let that render land before typing over it.
        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync("250");
        await page.FillAsync("input[data-testid=steps]", "60");
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("[data-testid=corruption-explanation]")).ToContainTextAsync("square hole");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("op=box-inpainting.*solver=dps.*steps=60"));

        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync("60");
        await page.ClickAsync("#run-button");
        var canvas = page.Locator("[data-testid=xt-canvas]");
        var pictures = new HashSet<string>();
        var deadline = DateTime.UtcNow + RunTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var status = await page.GetAttributeAsync("[data-testid=run-status]", "data-status");
            if (await canvas.GetAttributeAsync("data-frames") is not null)
                pictures.Add(await canvas.EvaluateAsync<string>("c => c.toDataURL()"));
            if (status is "finished" or "failed" or "cancelled") break;
            await Task.Delay(40);
        }
        Assert.True(pictures.Count >= 2, $"the x_t canvas should change while steps stream; saw {pictures.Count} distinct pictures");

        var finalPsnr = page.Locator("#final-psnr");
        await Assertions.Expect(finalPsnr).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 30_000 });
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-step", "59"); // the final frame, drawn by the player
        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync("60");
        await Assertions.Expect(page.Locator("[data-testid=scrubber]")).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-box-inpainting-dps.png"), FullPage = true });

        await ReportMeasurementsAsync(page);
    }

    [Fact]
    public async Task A_new_visitor_gets_the_bundled_prior_and_a_face_back()
    {
        // What a student sees first: the bare address, the bundled pixel-faces prior, a gallery face.
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(1400, 1000);
        await page.GotoAsync("/");
        await WaitForInteractiveAsync(page);
        await Assertions.Expect(page.Locator("[data-testid=prior-select]")).ToHaveTextAsync(new Regex("pixel-faces-32"));
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("prior=pixel-faces-32.*image=gallery"));

        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync(new Regex(@"^\d+$"));
        await page.FillAsync("input[data-testid=steps]", "40");
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("steps=40"));
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 90_000 });
        Assert.Equal("finished", await page.GetAttributeAsync("[data-testid=run-status]", "data-status"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-default-prior.png") });
    }

    [Fact]
    public async Task Choosing_the_emoji_prior_offers_held_out_emoji_and_runs_on_them()
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(1400, 1000);
        await page.GotoAsync("/?prior=pixel-faces-32&op=super-resolution&noise=gaussian&sigmaY=0.05&solver=ddim&steps=30&seed=2");
        await WaitForInteractiveAsync(page);

        await ChooseAsync(page, "prior-select", "emoji-32");
        // The gallery follows the prior: a held-out emoji, named in words (its file is named by code point).
        await Assertions.Expect(page.Locator("[data-testid=image-select]")).ToHaveTextAsync(new Regex("^[A-Z][a-z]+"));
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("prior=emoji-32.*image=gallery%3A[0-9a-f]"));
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 90_000 });
        Assert.Equal("finished", await page.GetAttributeAsync("[data-testid=run-status]", "data-status"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-emoji-prior.png") });
    }

    [Fact]
    public async Task A_shared_link_restores_every_control()
    {
        const string link = "/?prior=gmm-image&image=sample%3A2&op=gaussian-blur&op.kernel-size=7&op.sigma=2.5&noise=gaussian&sigmaY=0.1&solver=sdedit&s.t0=0.3&steps=40&seed=7";
        var page = await browser.NewPageAsync();
        await page.GotoAsync(link);
        await WaitForInteractiveAsync(page);

        await Assertions.Expect(page.Locator("input[data-testid='corruption.sigma']")).ToHaveValueAsync("2.5");
        await Assertions.Expect(page.Locator("input[data-testid='corruption.kernel-size']")).ToHaveValueAsync("7");
        await Assertions.Expect(page.Locator("input[data-testid=sigmaY]")).ToHaveValueAsync("0.1");
        await Assertions.Expect(page.Locator("input[data-testid='solver.t0']")).ToHaveValueAsync("0.3");
        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync("40");
        await Assertions.Expect(page.Locator("input[data-testid=seed]")).ToHaveValueAsync("7");
        // A MudSelect shows its choice as the text of its combobox element.
        await Assertions.Expect(page.Locator("[data-testid=prior-select]")).ToHaveTextAsync(new Regex("Gaussian mixture"));
        await Assertions.Expect(page.Locator("[data-testid=corruption-select]")).ToHaveTextAsync("Gaussian blur");
        await Assertions.Expect(page.Locator("[data-testid=solver-select]")).ToHaveTextAsync("SDEdit");
        await Assertions.Expect(page.Locator("[data-testid=image-select]")).ToHaveTextAsync(new Regex("sample 2"));
        // The page writes its state back into the address bar: the same spec, so the link is stable.
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("op.sigma=2.5.*s.t0=0.3&steps=40&seed=7"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-shared-link.png"), FullPage = true });
    }

    [Fact]
    public async Task A_mistyped_link_says_what_it_replaced_and_still_shows_the_measurement()
    {
        // An unknown corruption, more steps than HQS allows and a setting HQS lacks: the page says what
        // it did with each (the steps held to HQS's range, the setting left out), can run at once, and
        // draws x0 and y; the address bar then holds what the controls show.
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?prior=gmm-image&image=sample%3A1&op=blurr&noise=gaussian&sigmaY=0.05&solver=hqs&s.epsilon=0.5&steps=5000&seed=1");
        await WaitForInteractiveAsync(page);

        await Assertions.Expect(page.Locator("[data-testid=link-notes]")).ToContainTextAsync("corruption called 'blurr'");
        await Assertions.Expect(page.Locator("[data-testid=corruption-select]")).ToHaveTextAsync("Box inpainting");
        await Assertions.Expect(page.Locator("[data-testid=link-notes]")).ToContainTextAsync("Steps must be between 1 and 500 for HQS (half-quadratic splitting), so the link's 5000 became 500.");
        await Assertions.Expect(page.Locator("[data-testid=link-notes]")).ToContainTextAsync("has no setting called 'epsilon'");
        await Assertions.Expect(page.Locator("input[data-testid=steps]")).ToHaveValueAsync("500");
        await Assertions.Expect(page.Locator("#run-button")).ToBeEnabledAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("op=box-inpainting.*solver=hqs.*steps=500&seed=1$"));
        await Assertions.Expect(page.Locator("[data-testid=ground-truth]")).ToHaveAttributeAsync("src", new Regex("^data:image/png"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-mistyped-link.png") });
    }

    [Fact]
    public async Task An_upload_and_its_saved_run_stay_with_the_browser_that_uploaded_it()
    {
        // A student's photo: usable in their own browser, not through their link or /runs in another.
        var mine = await browser.NewPageAsync();
        await mine.GotoAsync("/?prior=pixel-faces-32&op=denoise&noise=gaussian&sigmaY=0.05&solver=ddim&steps=10&seed=1");
        await WaitForInteractiveAsync(mine);
        await mine.SetInputFilesAsync("#upload-input", new FilePayload { Name = "me.png", MimeType = "image/png", Buffer = File.ReadAllBytes(Path.Combine(BrowserFixture.RepositoryRoot(), "docs", "screenshots", "lab.png")) });
        await Assertions.Expect(mine.Locator("[data-testid=upload-note]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(mine).ToHaveURLAsync(new Regex("image=upload%3A[0-9a-f]+"));
        await mine.ClickAsync("#run-button");
        await Assertions.Expect(mine.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 60_000 });
        var runId = await mine.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        // The page shows "finished" a moment before the run is in the store (it is saved right after its last frame).
        Assert.True(SpinWait.SpinUntil(() => browser.Server.Store.Get(runId) is not null, TimeSpan.FromSeconds(30)), "the finished run was never saved");
        var link = mine.Url;
        await mine.GotoAsync($"/runs/{runId}");
        await Assertions.Expect(mine.Locator("#replay-delete")).ToBeVisibleAsync(new() { Timeout = 30_000 }); // saved, and theirs to delete

        var other = await browser.NewPageAsync();
        await other.GotoAsync(link);
        await WaitForInteractiveAsync(other);
        await Assertions.Expect(other.Locator("[data-testid=link-notes]")).ToContainTextAsync("uploaded image");
        await Assertions.Expect(other).ToHaveURLAsync(new Regex("image=gallery%3A"));
        await other.GotoAsync("/runs");
        await Assertions.Expect(other.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(other.Locator($"tr[data-run-id='{runId}']")).ToHaveCountAsync(0);
        await other.GotoAsync($"/runs/{runId}");
        await Assertions.Expect(other.Locator("[data-testid=replay-missing]")).ToContainTextAsync("only the browser that uploaded it");
        await other.Context.CloseAsync();
        await mine.Context.CloseAsync();
    }

    [Fact]
    public async Task The_labs_watch_link_lets_a_second_browser_follow_the_run()
    {
        // A teacher runs in the lab and hands the class the watch link.
        var teacher = await browser.NewPageAsync();
        await teacher.GotoAsync("/?prior=pixel-faces-32&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=600&seed=2");
        await WaitForInteractiveAsync(teacher);
        await Assertions.Expect(teacher.Locator("#watch-button")).ToHaveCountAsync(0); // nothing to watch yet
        await teacher.ClickAsync("#run-button");
        await Assertions.Expect(teacher.Locator("#watch-button")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        var runId = await teacher.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        Assert.Equal($"/watch/{runId}", await teacher.GetAttributeAsync("#watch-button", "data-watch-href"));

        // The run is held at step 20 until the student has joined, so a fast machine cannot finish it first.
        var run = browser.Server.Runs.Find(runId!)!;
        var student = await browser.NewPageAsync();
        var status = student.Locator("[data-testid=watch-step]");
        using (var hold = new RunHold(run, 20))
        {
            Assert.True(SpinWait.SpinUntil(() => hold.IsHeld || run.IsOver, TimeSpan.FromSeconds(60)), "the run never reached step 20");
            Assert.False(run.IsOver, "the run ended before the test could hold it");
            await student.GotoAsync($"/watch/{runId}");
            await Assertions.Expect(status).ToHaveAttributeAsync("data-step", new Regex(@"^\d+$"), new() { Timeout = 30_000 });
        }
        var first = int.Parse((await status.GetAttributeAsync("data-step"))!, CultureInfo.InvariantCulture);
        await student.WaitForFunctionAsync($"() => Number(document.querySelector('[data-testid=watch-step]').dataset.step) > {first}", null, new() { Timeout = 60_000 });
        await student.Context.CloseAsync();
        await teacher.Context.CloseAsync(); // closing the tab stops the long run (see below)
    }

    [Fact]
    public async Task Closing_the_tab_stops_its_run()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?prior=pixel-faces-32&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=1000&seed=1"); // the UNet: slow enough that the run is still going when the tab closes
        await WaitForInteractiveAsync(page);
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("[data-testid=xt-canvas]")).ToHaveAttributeAsync("data-frames", new Regex("[0-9]+"), new() { Timeout = 30_000 });
        var runId = await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        var run = browser.Server.Runs.Find(runId!)!;

        await page.Context.CloseAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!run.IsOver) await Task.Delay(20, timeout.Token);
        Assert.Equal(RunStatus.Cancelled, run.Status);
        Assert.True(run.Latest is null || !run.Latest.IsFinal);
    }

    internal static async Task WaitForInteractiveAsync(IPage page)
    {
        // The circuit is up once the frame player is ready (its module was imported over the circuit).
        await Assertions.Expect(page.Locator(".frame-player[data-player=ready] [data-testid=run-status]")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("[data-testid=measurement]")).ToHaveAttributeAsync("src", new Regex("^data:image/png"), new() { Timeout = 30_000 });
    }

    internal static async Task ChooseAsync(IPage page, string testId, string option)
    {
        var select = page.Locator($"[data-testid={testId}]").Locator("xpath=ancestor-or-self::div[contains(@class,'mud-select')][1]").First;
        var items = page.Locator(".mud-popover-open .mud-list-item");
        await PickAsync(page, select, items.Filter(new() { HasText = option }).First);
    }

    /// <summary>
    /// Opens a MudSelect and clicks one of its items until the list has closed on the choice: a click that lands
    /// while a long list is still opening is lost now and then on a busy machine (at most three tries).
    /// </summary>
    internal static async Task PickAsync(IPage page, ILocator select, ILocator item)
    {
        var items = page.Locator(".mud-popover-open .mud-list-item");
        for (var attempt = 0; ; attempt++)
        {
            await select.ClickAsync();
            await item.ClickAsync();
            try
            {
                await Assertions.Expect(items).ToHaveCountAsync(0);
                return;
            }
            catch (PlaywrightException) when (attempt < 2)
            {
                await page.Keyboard.PressAsync("Escape");
                await Assertions.Expect(items).ToHaveCountAsync(0);
            }
        }
    }

    async Task ReportMeasurementsAsync(IPage page)
    {
        var stats = await page.EvaluateAsync<JsonElement>("() => window.diffusionLab.stats");
        var runId = await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        var timings = browser.Server.Runs.Find(runId!)!.Timings();
        double clicked = stats.GetProperty("runClickedAt").GetDouble(), first = stats.GetProperty("firstFrameAt").GetDouble(),
            last = stats.GetProperty("lastFrameAt").GetDouble();
        var frames = stats.GetProperty("frames").GetInt32();
        var lines = string.Join(Environment.NewLine,
            $"run → first frame on the page: {(first - clicked).ToString("0", CultureInfo.InvariantCulture)} ms",
            $"frames delivered: {frames} of {timings.FramesProduced} steps, {(frames / Math.Max(1e-3, (last - first) / 1000)).ToString("0.0", CultureInfo.InvariantCulture)} frames/s",
            $"server: run {timings.Total.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture)} s, first frame {timings.FirstFrameAfterStart?.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture)} ms after start",
            $"solver thread handing steps over: {timings.Handoff.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms = {(100 * timings.SolverThreadFraction).ToString("0.00", CultureInfo.InvariantCulture)} % of the run",
            $"encoder thread: {timings.FramesEncoded} frames, encoding {timings.Encoding.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms + sending {timings.Publishing.TotalMilliseconds.ToString("0.0", CultureInfo.InvariantCulture)} ms = " +
            $"{(100 * timings.EncodingFraction).ToString("0.00", CultureInfo.InvariantCulture)} % of the run's time");
        output.WriteLine(lines);
        await File.WriteAllTextAsync(Path.Combine(BrowserFixture.ScreenshotFolder, "lab-measurements.txt"), lines + Environment.NewLine);
    }
}
