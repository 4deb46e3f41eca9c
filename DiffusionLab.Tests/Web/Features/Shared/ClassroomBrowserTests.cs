using Microsoft.Playwright;
using System.Globalization;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>Compare, diversity and watch links in a real browser (Debian's Chromium), against the app on Kestrel.</summary>
public sealed class ClassroomBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    const string Measurement = "prior=gmm-image&image=sample%3A1&op=box-inpainting&noise=gaussian&sigmaY=0.05&seed=5";

    static async Task OpenAsync(IPage page, string url)
    {
        await page.GotoAsync(url);
        await Assertions.Expect(page.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task Comparing_three_solvers_shows_three_results_and_the_table()
    {
        var page = await browser.NewPageAsync();
        await OpenAsync(page, $"/compare?{Measurement}&solver=dps&steps=25&solvers=sdedit,dps,hqs");
        // Before anything runs, the page shows what the solvers will see: y and x0.
        await Assertions.Expect(page.Locator("[data-testid=measurement-preview] img[src^='data:image/png']")).ToHaveCountAsync(2);
        await page.ClickAsync("#compare-run");
        await Assertions.Expect(page.Locator("[data-testid=measurement-preview]")).ToHaveCountAsync(0);

        var finished = page.Locator("[data-testid=compare-result][data-status=Finished]");
        await Assertions.Expect(finished).ToHaveCountAsync(3, new() { Timeout = 120_000 });
        var rows = page.Locator("[data-testid=compare-table] tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        foreach (var solver in new[] { "sdedit", "dps", "hqs" })
        {
            // The player writes each row from its run's frames (the final one may land a moment after the status).
            var cells = rows.Locator($"xpath=self::tr[@data-solver='{solver}']/td");
            await Assertions.Expect(cells.Nth(1)).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$")); // PSNR
            await Assertions.Expect(cells.Nth(2)).ToHaveTextAsync(new Regex(@"^\d\.\d{3}$")); // SSIM
            await Assertions.Expect(cells.Nth(4)).ToHaveTextAsync(new Regex(@"^\d+$")); // network evaluations
        }
        await Assertions.Expect(page.Locator("[data-testid=compare-result] canvas[data-frame=x0hat]").First).ToHaveAttributeAsync("data-step", new Regex(@"^\d+$"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "compare-three-solvers.png"), FullPage = true });
    }

    [Fact]
    public async Task Diversity_with_four_seeds_shows_the_samples_and_a_std_map()
    {
        var page = await browser.NewPageAsync();
        await OpenAsync(page, $"/diversity?{Measurement}&solver=dps&steps=25&n=4");
        await page.ClickAsync("#diversity-run");

        var std = page.Locator("[data-testid=diversity-std]");
        await Assertions.Expect(std).ToBeVisibleAsync(new() { Timeout = 120_000 });
        // The samples and the std map are drawn in one go by the player: once the map is drawn, so are the final samples.
        await Assertions.Expect(std.Locator("canvas[data-drawn]")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[data-testid=diversity-samples] canvas")).ToHaveCountAsync(4);
        var stdMax = double.Parse((await std.GetAttributeAsync("data-std-max"))!, CultureInfo.InvariantCulture);
        Assert.True(stdMax > 0, "DPS samples of one measurement should disagree somewhere");
        await Assertions.Expect(page.Locator("[data-testid=diversity-metrics]")).ToContainTextAsync("4 samples");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "diversity-dps-4-seeds.png"), FullPage = true });

        // The finished batch is kept: its page shows the same four samples and std map after the live page is gone.
        // Compared by the fingerprint of the picture each canvas was given, not by its pixels, which also
        // depend on the canvas's laid-out size at the moment it was read.
        const string Pictures = "canvases => canvases.map(c => c.dataset.picture)";
        var samples = await page.Locator("[data-testid=diversity-samples] canvas").EvaluateAllAsync<string[]>(Pictures);
        Assert.All(samples, picture => Assert.False(string.IsNullOrEmpty(picture), "every sample canvas was given a picture"));
        await page.ClickAsync("[data-testid=diversity-saved] a");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/runs/diversity/[0-9a-f]+$"));
        // Waits for each canvas of the new page (the old page's canvases can still be there for a moment).
        var savedSamples = page.Locator("[data-testid=diversity-samples] canvas");
        await Assertions.Expect(savedSamples).ToHaveCountAsync(4);
        for (var i = 0; i < samples.Length; i++)
            await Assertions.Expect(savedSamples.Nth(i)).ToHaveAttributeAsync("data-picture", samples[i]);
        Assert.Equal(stdMax, double.Parse((await page.Locator("[data-testid=diversity-std]").GetAttributeAsync("data-std-max"))!, CultureInfo.InvariantCulture));
        await Assertions.Expect(page.Locator("[data-testid=diversity-batch-rerun]")).ToHaveAttributeAsync("href", new Regex("^/diversity\\?.*solver=dps.*&n=4$"));
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "diversity-saved-batch.png"), FullPage = true });
        var id = page.Url[(page.Url.LastIndexOf('/') + 1)..];
        await OpenAsync(page, "/runs");
        var row = page.Locator($"[data-testid=diversity-batches-table] tr[data-batch-id='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("Diffusion posterior sampling");
        await Assertions.Expect(row).ToContainTextAsync("Box inpainting · gmm-image");
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "saved-runs.png"), FullPage = true });

        // Another browser (its own cookies) sees the batch but cannot delete it; the one that drew it can.
        var other = await browser.NewPageAsync();
        await OpenAsync(other, "/runs");
        await Assertions.Expect(other.Locator($"[data-testid=diversity-batches-table] tr[data-batch-id='{id}']")).ToBeVisibleAsync();
        await Assertions.Expect(other.Locator($"[data-testid=diversity-batches-table] tr[data-batch-id='{id}'] button")).ToHaveCountAsync(0);
        await OpenAsync(other, $"/runs/diversity/{id}");
        await Assertions.Expect(other.Locator("[data-testid=diversity-samples] canvas[data-drawn]")).ToHaveCountAsync(4);
        await Assertions.Expect(other.Locator("#diversity-batch-delete")).ToHaveCountAsync(0);
        await other.Context.CloseAsync();

        await row.Locator("button", new() { HasText = "delete" }).ClickAsync();
        // Deleting asks first; keeping it leaves the row, confirming removes it.
        await page.Locator(".mud-dialog button", new() { HasText = "Keep it" }).ClickAsync();
        await Assertions.Expect(page.Locator($"tr[data-batch-id='{id}']")).ToHaveCountAsync(1);
        await row.Locator("button", new() { HasText = "delete" }).ClickAsync();
        await page.Locator(".mud-dialog button", new() { HasText = "Delete" }).ClickAsync();
        await Assertions.Expect(page.Locator($"tr[data-batch-id='{id}']")).ToHaveCountAsync(0);
    }

    [Fact]
    public async Task A_watch_link_in_a_second_browser_context_sees_frames_arrive()
    {
        var presenterPage = await browser.NewPageAsync();
        await OpenAsync(presenterPage, $"/compare?{Measurement}&solver=dps&steps=600&solvers=dps");
        await presenterPage.ClickAsync("#compare-run");
        var link = presenterPage.Locator("[data-testid=compare-result] a[href^='/watch/']");
        await Assertions.Expect(link).ToBeVisibleAsync(new() { Timeout = 30_000 });
        var href = (await link.GetAttributeAsync("href"))!;

        var watcher = await browser.NewPageAsync(); // a new context: no cookies, no circuit shared with the first
        var status = watcher.Locator("[data-testid=watch-step]");
        // The run is held at step 20 until the watcher has joined, so a fast machine cannot finish it first.
        var run = browser.Server.Runs.Find(href["/watch/".Length..])!;
        using (var hold = new RunHold(run, 20))
        {
            Assert.True(SpinWait.SpinUntil(() => hold.IsHeld || run.IsOver, TimeSpan.FromSeconds(60)), "the run never reached step 20");
            Assert.False(run.IsOver, "the run ended before the test could hold it");
            await watcher.GotoAsync(href + "?presenter=1");
            await Assertions.Expect(status).ToHaveAttributeAsync("data-step", new Regex(@"^\d+$"), new() { Timeout = 30_000 });
            await Assertions.Expect(watcher.Locator("[data-testid=watch-title]")).ToContainTextAsync("Diffusion posterior sampling (DPS) on Box inpainting · gmm-image");
        }
        var first = int.Parse((await status.GetAttributeAsync("data-step"))!, CultureInfo.InvariantCulture);
        await watcher.WaitForFunctionAsync($"() => Number(document.querySelector('[data-testid=watch-step]').dataset.step) > {first}", null, new() { Timeout = 60_000 });
        await Assertions.Expect(watcher.Locator("[data-testid=watch-x0hat] canvas")).ToHaveAttributeAsync("data-step", new Regex(@"^\d+$"));
        await watcher.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "watch-presenter.png"), FullPage = true });
        // Stop the long run so it does not load the machine for the tests after this one. On a slow
        // machine it may have finished already, and then there is no Stop button to press.
        try { await presenterPage.ClickAsync("#compare-stop", new() { Timeout = 3_000 }); }
        catch (TimeoutException) { }
        await Assertions.Expect(presenterPage.Locator("#compare-run")).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task A_watch_link_to_no_live_run_says_so_and_offers_the_replay_instead_of_empty_panels()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/watch/0123456789ab");
        await Assertions.Expect(page.Locator("[data-testid=watch-status]")).ToContainTextAsync("no live run", new() { Timeout = 30_000 });
        await Assertions.Expect(page.Locator(".watch-panels")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("[data-testid=watch-replay]")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=watch-replay]")).ToHaveAttributeAsync("href", "/runs/0123456789ab");
    }
}
