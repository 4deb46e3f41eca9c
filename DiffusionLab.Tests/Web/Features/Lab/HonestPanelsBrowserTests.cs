using Microsoft.Playwright;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lab never shows a result beside a y it did not come from: a change during a run stops it
/// and dims every result panel, as does a change after Stop; and y is a picture of what was
/// measured (a diffraction pattern, a k-space mask), not a flat grey square.
/// </summary>
public sealed class HonestPanelsBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    // The bundled UNet and a long DPS run: still going when the test changes a control.
    const string LongRun = "/?prior=pixel-faces-32&image=gallery%3Aface-00010&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=1000&seed=1";

    [Fact]
    public async Task A_control_changed_mid_run_stops_the_run_and_marks_every_result_panel_stale()
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(1280, 900);
        await page.GotoAsync(LongRun);
        await LabBrowserTests.WaitForInteractiveAsync(page);
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("[data-testid=xt-canvas]")).ToHaveAttributeAsync("data-frames", new Regex("[0-9]+"), new() { Timeout = 30_000 });
        var stale = page.Locator("[data-stale]");
        Assert.True(await stale.CountAsync() >= 6, "the result panels, the metrics and the charts should each say whether they are stale");
        await Assertions.Expect(page.Locator("[data-stale=true]")).ToHaveCountAsync(0);
        var runningY = await page.GetAttributeAsync("[data-testid=measurement]", "src");

        await LabBrowserTests.ChooseAsync(page, "corruption-select", "Gaussian blur");
        await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "cancelled", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("[data-stale=false]")).ToHaveCountAsync(0); // every one at once
        await Assertions.Expect(page.Locator("[data-testid=stale-note]")).ToContainTextAsync("previous settings");
        // y now shows the new settings' blur, beside dimmed results that say where they came from.
        await Assertions.Expect(page.Locator("[data-testid=measurement]")).Not.ToHaveAttributeAsync("src", runningY!, new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator(".panel.stale .stale-tag").First).ToBeVisibleAsync();
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-stale-after-change.png") });

        // Run the new settings, stop, then edit: the stopped run's panels go stale too.
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("[data-stale=true]")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "running", new() { Timeout = 30_000 });
        await page.ClickAsync("#stop-button");
        await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "cancelled", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator("[data-stale=true]")).ToHaveCountAsync(0);
        await page.FillAsync("input[data-testid=seed]", "2");
        await page.Keyboard.PressAsync("Tab");
        await Assertions.Expect(page.Locator("[data-stale=false]")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Phase_retrievals_y_is_a_diffraction_pattern_in_the_lab_and_the_replay_and_Fourier_subsampling_shows_its_mask()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?prior=pixel-faces-32&image=gallery%3Aface-00010&op=phase-retrieval&noise=gaussian&sigmaY=0.05&solver=dps&steps=15&seed=1");
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var lab = await LevelsAsync(page, "[data-testid=measurement]");
        Assert.True(lab.Distinct > 20 && lab.Max - lab.Min > 100, $"the lab's y should be a pattern, got {lab.Distinct} grey levels from {lab.Min} to {lab.Max}");
        // Phase retrieval has no estimate from y alone, and says so.
        await Assertions.Expect(page.Locator("[data-testid=naive-psnr]")).ToHaveTextAsync("from y alone: none");

        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 90_000 });
        var runId = await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        Assert.True(SpinWait.SpinUntil(() => browser.Server.Store.Get(runId) is not null, TimeSpan.FromSeconds(30)), "the finished run was never saved");
        await page.GotoAsync($"/runs/{runId}");
        await Assertions.Expect(page.Locator("canvas[data-still=measurement][data-drawn]")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        var replay = await LevelsAsync(page, "canvas[data-still=measurement]");
        Assert.True(replay.Distinct > 20 && replay.Max - replay.Min > 100, $"the replay's y should be a pattern, got {replay.Distinct} grey levels");

        // Fourier subsampling: the rows of k-space never measured are drawn black across the whole picture.
        await page.GotoAsync("/?prior=pixel-faces-32&image=gallery%3Aface-00010&op=fourier-subsampling&noise=gaussian&sigmaY=0.05&solver=dps&steps=15&seed=1");
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var blackRows = await page.Locator("[data-testid=measurement]").EvaluateAsync<int>(@"img => {
            const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
            const g = c.getContext('2d'); g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data; let rows = 0;
            for (let y = 0; y < c.height; y++) { let black = true; for (let x = 0; x < c.width; x++) { const i = (y * c.width + x) * 4; if (d[i] + d[i + 1] + d[i + 2] > 0) { black = false; break; } } if (black) rows++; }
            return rows; }");
        Assert.True(blackRows >= 8, $"the k-space mask should show unmeasured rows in black, found {blackRows}");
        await page.Context.CloseAsync();
    }

    /// <summary>The grey levels of a picture on the page (an img or a canvas): how many distinct ones, and their range.</summary>
    static async Task<(int Distinct, int Min, int Max)> LevelsAsync(IPage page, string selector)
    {
        var levels = await page.Locator(selector).EvaluateAsync<int[]>(@"el => {
            const c = document.createElement('canvas');
            c.width = el.naturalWidth || el.width; c.height = el.naturalHeight || el.height;
            const g = c.getContext('2d'); g.drawImage(el, 0, 0);
            const d = g.getImageData(0, 0, c.width, c.height).data; const seen = new Set(); let min = 255, max = 0;
            for (let i = 0; i < d.length; i += 4) { if (d[i + 3] === 0) continue; const v = Math.round((d[i] + d[i + 1] + d[i + 2]) / 3); seen.add(v); min = Math.min(min, v); max = Math.max(max, v); }
            return [seen.size, min, max]; }");
        return (levels[0], levels[1], levels[2]);
    }
}
