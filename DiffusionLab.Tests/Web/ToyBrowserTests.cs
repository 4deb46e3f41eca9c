using System.Globalization;
using Microsoft.Playwright;

namespace DiffusionLab.Tests.Web;

/// <summary>The 2-D lab in a real browser (Debian's Chromium), against the app on Kestrel.</summary>
public sealed class ToyBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task DPS_observing_x1_on_the_ring_moves_the_particles_and_updates_the_distance()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/toy");
        var canvas = page.Locator("[data-testid=toy-canvas]");
        // The scene (exact densities) has been drawn once the script asked the hub for it.
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-scenes", new System.Text.RegularExpressions.Regex("^[1-9]"), new() { Timeout = 30_000 });

        await page.ClickAsync("[data-preset=grid]");
        await page.ClickAsync("[data-preset=ring]");
        await Assertions.Expect(page.Locator("#solver-select").Locator("xpath=ancestor-or-self::div[contains(@class,'mud-select')][1]"))
            .ToContainTextAsync("DPS");
        await Assertions.Expect(page.Locator("#measurement-select").Locator("xpath=ancestor-or-self::div[contains(@class,'mud-select')][1]"))
            .ToContainTextAsync("Observe x₁");

        await page.ClickAsync("#toy-run-button");
        var pictures = new HashSet<string>();
        var distances = new HashSet<string>();
        var deadline = DateTime.UtcNow + RunTimeout;
        string? status = null;
        while (DateTime.UtcNow < deadline)
        {
            status = await page.GetAttributeAsync("[data-testid=toy-status]", "data-status");
            if (int.TryParse(await canvas.GetAttributeAsync("data-frames"), out var frames) && frames > 0)
            {
                pictures.Add(await canvas.EvaluateAsync<string>("c => c.toDataURL()"));
                distances.Add(await page.InnerTextAsync("#toy-distance"));
            }
            if (status is "finished" or "failed" or "stopped") break;
            await Task.Delay(60);
        }
        Assert.Equal("finished", status);
        Assert.True(pictures.Count >= 3, $"the particles should move on the canvas while the steps stream; saw {pictures.Count} distinct pictures");
        var numbers = distances.Where(d => double.TryParse(d, NumberStyles.Float, CultureInfo.InvariantCulture, out _)).ToList();
        Assert.True(numbers.Count >= 2, $"the distance figure should update during the run; saw {string.Join(", ", distances)}");

        var final = double.Parse(await page.InnerTextAsync("#toy-distance"), CultureInfo.InvariantCulture);
        Assert.True(final > 0 && double.IsFinite(final), $"final distance {final}");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "toy-ring-dps-observe-x1.png"), FullPage = true });
    }

    [Fact]
    public async Task The_forward_process_slider_diffuses_the_data_and_shows_the_score()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/toy");
        var canvas = page.Locator("[data-testid=toy-canvas]");
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-scenes", new System.Text.RegularExpressions.Regex("^[1-9]"), new() { Timeout = 30_000 });
        await page.ClickAsync("[data-preset=grid]");
        await page.WaitForFunctionAsync("() => Number(document.querySelector('[data-testid=toy-canvas]').dataset.scenes) >= 2");
        var before = await canvas.EvaluateAsync<string>("c => c.toDataURL()");

        await page.EvaluateAsync("() => window.toyLab.setOptions({ arrows: true })");
        await page.EvaluateAsync("() => window.toyLab.setTime(0.3)");
        await page.WaitForTimeoutAsync(800);
        var after = await canvas.EvaluateAsync<string>("c => c.toDataURL()");
        Assert.NotEqual(before, after);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "toy-grid-forward-t0.3.png"), FullPage = true });
    }
}
