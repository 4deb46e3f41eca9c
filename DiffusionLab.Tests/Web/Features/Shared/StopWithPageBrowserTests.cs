using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Runs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Work a page started ends with the page, in a real browser (Debian's Chromium) against the app on
/// Kestrel: compare's runs and a diversity batch stop when their tab closes, compare has a Stop per
/// run, and the work of a browser that vanished without closing its tab (its circuit's connection
/// dropped, the reconnection never arrives) ends after a short grace, not after the circuit
/// retention period of minutes.
/// </summary>
public sealed class StopWithPageBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    // 1000 steps each: surely still running when the test closes the tab.
    // The bundled UNet, not the exact mixture: on an idle machine 1000 DPS steps of the mixture can finish
    // before the test has closed the page, and a finished run cannot show that closing stopped it.
    const string Measurement = "prior=pixel-faces-32&image=gallery%3Aface-00010&op=box-inpainting&noise=gaussian&sigmaY=0.05&seed=5&solver=dps&steps=1000";
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    ILiveRuns Runs => browser.Server.Runs;
    DiversityService Batches => browser.Server.Services.GetRequiredService<DiversityService>();

    static async Task OpenAsync(IPage page, string url)
    {
        await page.GotoAsync(url);
        if (url.StartsWith("/?", StringComparison.Ordinal)) await LabBrowserTests.WaitForInteractiveAsync(page);
        else await Assertions.Expect(page.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"still waiting for: {what}");
            await Task.Delay(20);
        }
    }

    async Task<LabRun[]> CompareRunsAsync(IPage page, int count)
    {
        var figures = page.Locator("[data-testid=compare-result]");
        await Assertions.Expect(figures).ToHaveCountAsync(count, new() { Timeout = 30_000 });
        var ids = await figures.EvaluateAllAsync<string[]>("figures => figures.map(f => f.dataset.run)");
        return ids.Select(id => Runs.Find(id)!).ToArray();
    }

    [Fact]
    public async Task Each_compared_run_has_a_stop_button_and_the_rest_stop_when_the_tab_closes()
    {
        var page = await browser.NewPageAsync();
        await OpenAsync(page, $"/compare?{Measurement}&solvers=dps,sdedit");
        await page.ClickAsync("#compare-run");
        var runs = await CompareRunsAsync(page, 2);

        var first = page.Locator($"[data-testid=compare-result][data-run='{runs[0].Id}']");
        await first.Locator("[data-testid=compare-stop-run]").ClickAsync();
        await Assertions.Expect(first).ToHaveAttributeAsync("data-status", "Cancelled", new() { Timeout = 30_000 });
        Assert.False(runs[1].IsOver, "stopping one run leaves the others running");

        await page.Context.CloseAsync();
        await WaitUntil(() => runs[1].IsOver, "the compare run of the closed tab to end");
        Assert.Equal(RunStatus.Cancelled, runs[1].Status);
    }

    [Fact]
    public async Task A_diversity_batch_stops_when_its_tab_closes()
    {
        var page = await browser.NewPageAsync();
        await OpenAsync(page, $"/diversity?{Measurement}&n=16");
        var before = Batches.Going();
        await page.ClickAsync("#diversity-run");
        await Assertions.Expect(page.Locator("[data-testid=diversity-status]")).ToHaveAttributeAsync("data-status", "Running", new() { Timeout = 30_000 });
        var batch = Assert.Single(Batches.Going().Except(before));

        await page.Context.CloseAsync();
        await WaitUntil(() => batch.IsOver, "the diversity batch of the closed tab to end");
        Assert.Equal("Cancelled", batch.Status);
    }

    /// <summary>
    /// A page whose circuit connection goes through the test: <see cref="DropAsync"/> closes it from
    /// the server's side, and every reconnection after that hangs, as for a browser that lost its
    /// network or crashed (it never says goodbye, so the server holds the circuit for minutes).
    /// </summary>
    sealed class VanishingPage
    {
        IWebSocketRoute? toServer;
        volatile bool dropped;

        public IPage Page { get; private set; } = default!;

        public static async Task<VanishingPage> OpenAsync(BrowserFixture browser, string url)
        {
            var vanishing = new VanishingPage { Page = await browser.NewPageAsync() };
            await vanishing.Page.RouteWebSocketAsync(new Regex(@"/_blazor\?id="), socket =>
            {
                if (vanishing.dropped) return; // the page's socket opens but nothing ever answers
                vanishing.toServer = socket.ConnectToServer();
            });
            await StopWithPageBrowserTests.OpenAsync(vanishing.Page, url);
            return vanishing;
        }

        public async Task DropAsync()
        {
            dropped = true;
            await toServer!.CloseAsync();
        }
    }

    [Fact]
    public async Task The_work_of_a_browser_that_vanished_ends_with_its_circuit_connection()
    {
        var lab = await VanishingPage.OpenAsync(browser, $"/?{Measurement}");
        await lab.Page.ClickAsync("#run-button");
        var status = lab.Page.Locator("[data-testid=run-status]");
        await Assertions.Expect(status).ToHaveAttributeAsync("data-status", "running", new() { Timeout = 30_000 });
        var labRun = Runs.Find((await status.GetAttributeAsync("data-run-id"))!)!;

        var compare = await VanishingPage.OpenAsync(browser, $"/compare?{Measurement}&solvers=dps");
        await compare.Page.ClickAsync("#compare-run");
        var compared = Assert.Single(await CompareRunsAsync(compare.Page, 1));

        var diversity = await VanishingPage.OpenAsync(browser, $"/diversity?{Measurement}&n=16");
        var before = Batches.Going();
        await diversity.Page.ClickAsync("#diversity-run");
        await Assertions.Expect(diversity.Page.Locator("[data-testid=diversity-status]")).ToHaveAttributeAsync("data-status", "Running", new() { Timeout = 30_000 });
        var batch = Assert.Single(Batches.Going().Except(before));

        // The tabs stay open and their frame players stay connected: only the circuits are lost.
        await lab.DropAsync();
        await compare.DropAsync();
        await diversity.DropAsync();
        await WaitUntil(() => labRun.IsOver && compared.IsOver && batch.IsOver, "the work of the vanished circuits to end");
        Assert.Equal(RunStatus.Cancelled, labRun.Status);
        Assert.Equal(RunStatus.Cancelled, compared.Status);
        Assert.Equal("Cancelled", batch.Status);
        foreach (var page in new[] { lab, compare, diversity }) await page.Page.Context.CloseAsync();
    }
}
