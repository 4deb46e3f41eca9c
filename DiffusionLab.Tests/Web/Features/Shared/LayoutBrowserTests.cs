using Microsoft.Playwright;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The pages on a phone (420 × 900) and a projector (1920 × 1080) in a real browser: nothing pushes
/// a page sideways, Run is in reach without scrolling, and the presenter view shows its four
/// panels, the numbers and the curves on one screen. The screenshots are the README's.
/// </summary>
public sealed class LayoutBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    const string FaceRun = "prior=pixel-faces-32&image=gallery%3Aface-00010&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=60&seed=3";

    static string Shot(string name) => Path.Combine(BrowserFixture.ScreenshotFolder, name);

    static async Task<(int ScrollWidth, int InnerWidth)> WidthsAsync(IPage page)
    {
        var widths = await page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, window.innerWidth]");
        return (widths[0], widths[1]);
    }

    static async Task AssertNoSidewaysScrollAsync(IPage page, string what)
    {
        var (scroll, inner) = await WidthsAsync(page);
        Assert.True(scroll <= inner, $"{what} is {scroll} px wide in a {inner} px window");
    }

    [Fact]
    public async Task Every_page_fits_a_phone_and_the_lab_keeps_Run_in_reach()
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(420, 900);

        // The lab: Run is on the first screen, with the controls folded; after a run the page is no wider.
        await page.GotoAsync("/?" + FaceRun.Replace("steps=60", "steps=20", StringComparison.Ordinal));
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var run = await page.Locator("#run-button").BoundingBoxAsync();
        Assert.NotNull(run);
        Assert.True(run.Y + run.Height <= 900, $"Run is {run.Y + run.Height:0} px down a 900 px phone screen");
        await AssertNoSidewaysScrollAsync(page, "the lab");
        await page.ScreenshotAsync(new() { Path = Shot("lab-phone-420.png") });
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 90_000 });
        await Assertions.Expect(page.Locator("[data-testid=scrubber]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await AssertNoSidewaysScrollAsync(page, "the lab after a run");
        // The sticky run bar is still on screen when the page has scrolled to the charts.
        await page.Locator("[data-testid=psnr-chart]").ScrollIntoViewIfNeededAsync();
        var bar = await page.Locator("[data-testid=run-bar]").BoundingBoxAsync();
        Assert.True(bar is not null && bar.Y >= 0 && bar.Y < 200, $"the run bar should stay at the top, it is at {bar?.Y:0}");
        await page.ScreenshotAsync(new() { Path = Shot("lab-phone-420-after-run.png"), FullPage = true });
        var runId = await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        Assert.True(SpinWait.SpinUntil(() => browser.Server.Store.Get(runId) is not null, TimeSpan.FromSeconds(30)), "the finished run was never saved");

        // The header's links are behind one menu button, each reachable.
        await page.ClickAsync("[data-testid=nav-menu] button");
        // The menu holds every header link (hidden on a phone, but still in the page).
        var headerLinks = await page.Locator(".lab-nav a").CountAsync();
        Assert.True(headerLinks >= 6, $"the header should have its page links, found {headerLinks}");
        await Assertions.Expect(page.Locator(".mud-popover-open .mud-menu-item")).ToHaveCountAsync(headerLinks);
        await page.Keyboard.PressAsync("Escape");

        foreach (var (url, ready) in new[]
        {
            ("/compare?" + FaceRun, ".classroom[data-ready=true]"),
            ("/diversity?" + FaceRun, ".classroom[data-ready=true]"),
            ("/runs", ".classroom[data-ready=true]"),
            ($"/runs/{runId}", ".classroom[data-ready=true]"),
            ($"/watch/{runId}", "[data-testid=watch-metrics]"),
            ("/toy", "[data-testid=toy-canvas][data-scenes]"),
            ("/generators", "h2"),
        })
        {
            await page.GotoAsync(url);
            await Assertions.Expect(page.Locator(ready).First).ToBeVisibleAsync(new() { Timeout = 30_000 });
            await AssertNoSidewaysScrollAsync(page, url);
            var name = url.TrimStart('/').Split('?')[0].Split('/')[0];
            if (name == "compare")
            {
                // The address follows the solvers ticked, so the comparison on screen is the one a copied link gives.
                await page.Locator("[data-testid=solver-choices]").GetByText("Score-based annealed Langevin").ClickAsync();
                await Assertions.Expect(page).ToHaveURLAsync(new Regex("solvers=[^&]*score-ald"));
            }
            if (name is "compare" or "diversity" or "runs" or "toy") await page.ScreenshotAsync(new() { Path = Shot($"{name}-phone-420.png"), FullPage = name == "runs" });
        }
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_presenter_view_fits_a_projector_with_four_panels_the_metrics_and_the_curves()
    {
        var lab = await browser.NewPageAsync();
        await lab.SetViewportSizeAsync(1280, 800);
        await lab.GotoAsync("/?" + FaceRun);
        await LabBrowserTests.WaitForInteractiveAsync(lab);
        await lab.ClickAsync("#run-button");
        await Assertions.Expect(lab.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"), new() { Timeout = 90_000 });
        await Assertions.Expect(lab.Locator("[data-testid=scrubber]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        // The yardstick beside the result: what y alone gives, and the error map drawn from the run's own x0.
        await Assertions.Expect(lab.Locator("[data-testid=naive-psnr]")).ToHaveTextAsync(new Regex(@"from y alone: \d+\.\d\d dB"));
        await Assertions.Expect(lab.Locator("[data-testid=error-canvas]")).ToHaveAttributeAsync("data-step", "59");
        await lab.ScreenshotAsync(new() { Path = Shot("lab-laptop-1280.png") });
        // The exports a teacher projects come from the same run: the labelled animation and the filmstrip.
        var runId = await lab.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        foreach (var export in new[] { "trajectory.png", "filmstrip.png" })
        {
            var response = await lab.APIRequest.GetAsync($"/runs/{runId}/{export}");
            Assert.True(response.Ok, $"{export}: {response.Status}");
            await File.WriteAllBytesAsync(Shot("export-" + export), await response.BodyAsync());
        }

        var present = await lab.GetAttributeAsync("#present-button", "href");
        Assert.Matches(@"^/watch/[0-9a-f]+\?presenter=1$", present);
        Assert.True(SpinWait.SpinUntil(() => browser.Server.Store.Get(runId) is not null, TimeSpan.FromSeconds(30)), "the finished run was never saved");

        // The saved runs, with the run's thumbnail and the image's name.
        await lab.GotoAsync("/runs");
        await Assertions.Expect(lab.Locator($"tr[data-run-id='{runId}'] img.run-thumbnail")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(lab.Locator($"tr[data-run-id='{runId}']")).ToContainTextAsync("face-00010");
        await lab.WaitForFunctionAsync($"() => document.querySelector(\"tr[data-run-id='{runId}'] img.run-thumbnail\").naturalWidth > 0", null, new() { Timeout = 30_000 });
        await lab.ScreenshotAsync(new() { Path = Shot("saved-runs-1280.png") });

        var projector = await browser.NewPageAsync();
        await projector.SetViewportSizeAsync(1920, 1080);
        await projector.GotoAsync(present!);
        var canvases = projector.Locator(".watch-panels canvas");
        await Assertions.Expect(canvases).ToHaveCountAsync(4, new() { Timeout = 30_000 });
        await Assertions.Expect(projector.Locator("[data-testid=watch-x0hat] canvas")).ToHaveAttributeAsync("data-step", "59", new() { Timeout = 30_000 });
        await Assertions.Expect(projector.Locator("[data-testid=watch-metrics]")).ToContainTextAsync(new Regex(@"PSNR \d+\.\d\d dB"));
        await Assertions.Expect(projector.Locator("[data-testid=watch-charts] polyline").First).ToBeAttachedAsync(new() { Timeout = 30_000 });
        var parts = new List<ILocator>();
        for (var i = 0; i < 4; i++) parts.Add(canvases.Nth(i));
        parts.Add(projector.Locator("[data-testid=watch-metrics]"));
        parts.Add(projector.Locator("[data-testid=watch-charts]"));
        foreach (var part in parts)
        {
            var box = await part.BoundingBoxAsync();
            Assert.True(box is not null && box.Width > 100 && box.Y >= 0 && box.Y + box.Height <= 1080 && box.X + box.Width <= 1920,
                $"a part of the presenter view is off the 1920 × 1080 screen: {box?.X:0},{box?.Y:0} {box?.Width:0}×{box?.Height:0}");
        }
        var heights = await projector.EvaluateAsync<int[]>("() => [document.documentElement.scrollHeight, window.innerHeight]");
        Assert.True(heights[0] <= heights[1], $"the presenter view is {heights[0]} px tall on a {heights[1]} px screen");
        await projector.ScreenshotAsync(new() { Path = Shot("presenter-1920.png") });
        await projector.Context.CloseAsync();
        await lab.Context.CloseAsync();
    }
}
