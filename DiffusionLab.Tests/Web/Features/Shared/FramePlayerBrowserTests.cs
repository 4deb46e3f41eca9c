using Microsoft.Playwright;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Every page that shows a run draws it through the one frame player: the lab (live stream and
/// scrubber), the watch page, a saved run's replay, compare and diversity. The player marks each
/// canvas it draws (data-step for a step's picture, data-drawn for a still); the tests read the
/// pixels back to see that a picture, not a blank or a flat fill, is on it.
/// </summary>
public sealed class FramePlayerBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    const string Measurement = "prior=gmm-image&image=sample%3A1&op=box-inpainting&noise=gaussian&sigmaY=0.05&seed=5";

    [Fact]
    public async Task The_lab_the_watch_page_and_the_replay_draw_one_runs_frames_through_the_player()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?" + LabServer.QuickSpec);
        await LabBrowserTests.WaitForInteractiveAsync(page);
        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "finished", new() { Timeout = 60_000 });
        foreach (var canvas in new[] { "xt-canvas", "x0hat-canvas", "result-canvas" })
            await AssertPictureAsync(page.Locator($"[data-testid={canvas}]"), "data-step", "19");
        // The step and the metrics beside the pictures are the player's too.
        await Assertions.Expect(page.Locator("[data-testid=run-step]")).ToHaveTextAsync("step 20 of 20");
        await Assertions.Expect(page.Locator("#final-psnr")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"));

        // The scrubber's first keyframe is an earlier step, drawn by the same player.
        var slider = page.Locator("[data-testid=scrubber] input[type=range]");
        await Assertions.Expect(slider).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        var finalPicture = await page.Locator("[data-testid=x0hat-canvas]").EvaluateAsync<string>("c => c.toDataURL()");
        await slider.FocusAsync();
        await page.Keyboard.PressAsync("Home");
        await Assertions.Expect(page.Locator("[data-testid=x0hat-canvas]")).Not.ToHaveAttributeAsync("data-step", "19");
        Assert.NotEqual(finalPicture, await page.Locator("[data-testid=x0hat-canvas]").EvaluateAsync<string>("c => c.toDataURL()"));
        await Assertions.Expect(page.Locator("[data-testid=run-step]")).Not.ToHaveTextAsync("step 20 of 20");

        // A watcher who opens the link after the end still sees the run: y, x0 and its last frame.
        var runId = (await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id"))!;
        var watcher = await browser.NewPageAsync();
        await watcher.GotoAsync($"/watch/{runId}");
        await AssertPictureAsync(watcher.Locator("[data-testid=watch-x0hat] canvas"), "data-step", "19");
        await AssertPictureAsync(watcher.Locator("canvas[data-still=measurement]"), "data-drawn", null);
        await Assertions.Expect(watcher.Locator("[data-testid=watch-step]")).ToHaveTextAsync("step 20 of 20");
        await Assertions.Expect(watcher.Locator("[data-testid=watch-metrics]")).ToContainTextAsync(new Regex(@"PSNR \d+\.\d\d dB"));

        // The saved run's replay: its keyframes come from the store and are drawn the same way.
        Assert.True(SpinWait.SpinUntil(() => browser.Server.Store.Get(runId) is not null, TimeSpan.FromSeconds(30)), "the finished run was never saved");
        var replay = await browser.NewPageAsync();
        await replay.GotoAsync($"/runs/{runId}");
        await AssertPictureAsync(replay.Locator("[data-testid=replay-x0hat] canvas"), "data-step", "19");
        await AssertPictureAsync(replay.Locator("[data-testid=replay-xt] canvas"), "data-step", "19");
        await AssertPictureAsync(replay.Locator("canvas[data-still=truth]"), "data-drawn", null);
        // The diffusion time comes back from the store with the rest: the final DPS step is at t = 0.
        await Assertions.Expect(replay.Locator("[data-testid=replay-step]")).ToContainTextAsync(new Regex(@"^step 20 of 20\s*t = 0\.00\s*· PSNR \d+\.\d\d dB", RegexOptions.Singleline));

        await replay.Context.CloseAsync();
        await watcher.Context.CloseAsync();
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task Compare_and_diversity_draw_their_pictures_through_the_player()
    {
        var page = await browser.NewPageAsync();
        await page.GotoAsync($"/compare?{Measurement}&solver=dps&steps=15&solvers=dps,hqs");
        await Assertions.Expect(page.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.ClickAsync("#compare-run");
        var finished = page.Locator("[data-testid=compare-result][data-status=Finished]");
        await Assertions.Expect(finished).ToHaveCountAsync(2, new() { Timeout = 120_000 });
        foreach (var solver in new[] { "dps", "hqs" })
            await AssertPictureAsync(page.Locator($"[data-testid=compare-result][data-solver={solver}] canvas"), "data-step", "14");
        await AssertPictureAsync(page.Locator("[data-testid=compare-input] canvas"), "data-drawn", null);
        // Each run's own numbers go to its own row.
        var dps = await page.Locator("[data-testid=compare-table] tr[data-solver=dps] td[data-readout=nfe]").InnerTextAsync();
        var hqs = await page.Locator("[data-testid=compare-table] tr[data-solver=hqs] td[data-readout=nfe]").InnerTextAsync();
        Assert.NotEqual(dps, hqs);

        await page.GotoAsync($"/diversity?{Measurement}&solver=dps&steps=15&n=2");
        await Assertions.Expect(page.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await page.ClickAsync("#diversity-run");
        await AssertPictureAsync(page.Locator("[data-testid=diversity-std] canvas"), "data-drawn", null, TimeSpan.FromSeconds(120));
        await AssertPictureAsync(page.Locator("[data-testid=diversity-mean] canvas"), "data-drawn", null);
        var samples = page.Locator("[data-testid=diversity-samples] canvas");
        await Assertions.Expect(samples).ToHaveCountAsync(2);
        for (var i = 0; i < 2; i++) await AssertPictureAsync(samples.Nth(i), "data-drawn", null);
        await Assertions.Expect(page.Locator("[data-testid=diversity-metrics] td[data-readout=psnr]")).ToHaveTextAsync(new Regex(@"^\d+\.\d\d dB$"));
        await page.Context.CloseAsync();
    }

    [Fact]
    public async Task The_player_writes_every_number_one_way()
    {
        // The one formatter, as the browser runs it: t only for solvers with a diffusion time, a dash for what is not a number.
        var page = await browser.NewPageAsync();
        await page.GotoAsync("/?" + LabServer.QuickSpec);
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var text = await page.EvaluateAsync<JsonElement>(
            """
            async () => {
              const { format } = await import('./Features/Shared/FramePlayer.razor.js');
              const frame = { Step: 41, Total: 100, T: 0.4237, Psnr: 27.456, Ssim: 0.81234, Residual: 0.0123456, ElapsedMs: 2345, NetworkEvaluations: 84 };
              const classical = { Step: 9, Total: 10, T: NaN, Psnr: NaN, Ssim: null, Residual: 0.00001234, ElapsedMs: 120, NetworkEvaluations: 0 };
              const all = f => Object.fromEntries(Object.entries(format).map(([name, write]) => [name, write(f)]));
              return { frame: all(frame), classical: all(classical), noT: format.t({ Step: 1, Total: 2 }) };
            }
            """);
        var frame = text.GetProperty("frame");
        Assert.Equal("step 42 of 100", frame.GetProperty("step").GetString());
        Assert.Equal("t = 0.42", frame.GetProperty("t").GetString());
        Assert.Equal("27.46 dB", frame.GetProperty("psnr").GetString());
        Assert.Equal("0.812", frame.GetProperty("ssim").GetString());
        Assert.Equal("0.0123", frame.GetProperty("residual").GetString());
        Assert.Equal("2.3 s", frame.GetProperty("elapsed").GetString());
        Assert.Equal("84", frame.GetProperty("nfe").GetString());
        var classical = text.GetProperty("classical");
        Assert.Equal("", classical.GetProperty("t").GetString());
        Assert.Equal("–", classical.GetProperty("psnr").GetString());
        Assert.Equal("–", classical.GetProperty("ssim").GetString());
        Assert.Equal("1.23e-5", classical.GetProperty("residual").GetString()); // small, but never rounded to 0
        Assert.Equal("0", classical.GetProperty("nfe").GetString());
        Assert.Equal("", text.GetProperty("noT").GetString()); // a frame from a server that sends no t
        await page.Context.CloseAsync();
    }

    /// <summary>Waits for the player's mark on the canvas (with this value, or any), then reads its pixels: a picture, drawn at a whole-pixel scale.</summary>
    static async Task AssertPictureAsync(ILocator canvas, string mark, string? value, TimeSpan? timeout = null)
    {
        var options = new LocatorAssertionsToHaveAttributeOptions { Timeout = (float)(timeout ?? TimeSpan.FromSeconds(30)).TotalMilliseconds };
        if (value is null) await Assertions.Expect(canvas).ToHaveAttributeAsync(mark, new Regex(@"^\d+$"), options);
        else await Assertions.Expect(canvas).ToHaveAttributeAsync(mark, value, options);
        var pixels = await canvas.EvaluateAsync<JsonElement>(
            """
            c => {
              const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let drawn = 0;
              const colours = new Set();
              for (let i = 0; i < data.length; i += 4)
                if (data[i + 3] > 0) { drawn++; colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]); }
              return { drawn, colours: colours.size, side: Math.round(Math.sqrt(drawn)) };
            }
            """);
        var drawn = pixels.GetProperty("drawn").GetInt32();
        Assert.True(drawn > 0, "the canvas is blank");
        Assert.True(pixels.GetProperty("colours").GetInt32() >= 2, "the canvas holds one flat colour, not a picture");
        // The priors' images are 32 pixels square: a whole-pixel upscale draws a square whose side is a multiple of 32.
        Assert.Equal(0, pixels.GetProperty("side").GetInt32() % 32);
    }
}
