using Microsoft.Playwright;
using System.Globalization;
using System.Text.RegularExpressions;

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
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-scenes", new Regex("^[1-9]"), new() { Timeout = 30_000 });

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
        bool savedMidway = false;
        while (DateTime.UtcNow < deadline)
        {
            status = await page.GetAttributeAsync("[data-testid=toy-status]", "data-status");
            if (int.TryParse(await canvas.GetAttributeAsync("data-frames"), out var frames) && frames > 0)
            {
                pictures.Add(await canvas.EvaluateAsync<string>("c => c.toDataURL()"));
                distances.Add(await page.InnerTextAsync("#toy-distance"));
                if (!savedMidway && frames > 0 && int.TryParse(await canvas.GetAttributeAsync("data-step"), out var step) && step >= 90)
                {
                    savedMidway = true;
                    await canvas.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "toy-ring-dps-midway.png") });
                }
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
        await canvas.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "toy-ring-dps-final.png") });
    }

    [Fact]
    public async Task The_forward_process_diffuses_the_data_and_the_plane_can_be_edited()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/toy");
        var canvas = page.Locator("[data-testid=toy-canvas]");
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-scenes", new Regex("^[1-9]"), new() { Timeout = 30_000 });

        // Click on an empty spot adds a blob; right-click on its centre removes it again.
        var box = (await canvas.BoundingBoxAsync())!;
        await canvas.ClickAsync(new() { Position = new() { X = box.Width * 0.5f, Y = box.Height * 0.5f } });
        await Assertions.Expect(page.Locator(".lab-controls")).ToContainTextAsync("9 of 32 components (edited)");
        await canvas.ClickAsync(new() { Position = new() { X = box.Width * 0.5f, Y = box.Height * 0.5f }, Button = MouseButton.Right });
        await Assertions.Expect(page.Locator(".lab-controls")).ToContainTextAsync("8 of 32 components (edited)");

        await page.ClickAsync("[data-preset=grid]");
        await Assertions.Expect(page.Locator(".lab-controls")).ToContainTextAsync("25 of 32 components.");
        await page.WaitForTimeoutAsync(500);
        var before = await canvas.EvaluateAsync<string>("c => c.toDataURL()");

        await page.ClickAsync("text=Score arrows");
        await page.ClickAsync("#toy-play-forward");
        await page.WaitForTimeoutAsync(1300);
        var during = await canvas.EvaluateAsync<string>("c => c.toDataURL()");
        Assert.NotEqual(before, during);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "toy-grid-forward-process.png"), FullPage = true });
        await Assertions.Expect(page.Locator(".toy-time")).ToContainTextAsync("t = 1.00", new() { Timeout = 10_000 });
    }
}
