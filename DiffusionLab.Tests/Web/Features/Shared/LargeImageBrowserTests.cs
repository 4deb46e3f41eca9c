using DiffusionLab.Engine.Priors;
using DiffusionLab.Tests.Priors;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Playwright;
using SkiaSharp;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// A prior of 256 × 256 grey images in a real browser: an upload is resized to it, its frames stream to the lab's
/// canvases, the canvases keep the same size on screen as for a 32-pixel prior (the image is scaled to the panel), and
/// the result downloads at its own size.
/// The network has random weights and a handful of channels: the pictures are noise, but every size on the way is real.
/// </summary>
public sealed class LargeImageBrowserTests : IDisposable
{
    const string Prior = "random-256";
    readonly string root = Directory.CreateTempSubdirectory("diffusionlab-256-").FullName;

    public LargeImageBrowserTests()
    {
        // Six levels halve 256 down to 8 pixels, where the middle's attention is cheap; four channels keep a step quick on a CPU.
        var config = new UNetConfig(256, 1, 4, [1, 1, 1, 1, 1, 1], 1, [], NormGroups: 2);
        using (var model = UNetTests.Randomised(config, seed: 3, name: Prior))
            CheckpointTests.SaveCard(model, Prior, Path.Combine(root, "models"));
        // The lab opens on a gallery image, so the prior gets one: a gradient, drawn at another size than the prior's.
        var gallery = Directory.CreateDirectory(Path.Combine(root, "wwwroot-assets", "gallery", Prior)).FullName;
        File.WriteAllBytes(Path.Combine(gallery, "0.png"), Png(100, 100));
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    static byte[] Png(int width, int height)
    {
        using var bitmap = new SKBitmap(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(255 * x / width), (byte)(255 * y / height), 128));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public async Task A_256_pixel_grey_prior_streams_its_frames_into_canvases_of_the_usual_size()
    {
        using var server = new LabServer("", 2, services: services =>
        {
            services.RemoveAll<PriorCatalog>();
            services.AddSingleton(_ => PriorCatalog.ForContentRoot(root));
        });
        using var playwright = await Playwright.CreateAsync();
        await using var chromium = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = BrowserFixture.ChromiumPath, Headless = true, Args = BrowserFixture.ChromiumArgs,
        });
        var context = await chromium.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1600, Height = 1000 },
            BaseURL = server.BaseAddress.ToString(),
        });
        var page = await context.NewPageAsync();
        var canvas = page.Locator("[data-testid=xt-canvas]");

        // The exact mixture's 32-pixel images first: the size its panel has on screen.
        await page.GotoAsync("/?prior=gmm-image&image=sample%3A0&op=denoise&noise=gaussian&sigmaY=0.05&solver=ddim&steps=3&seed=1");
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var small = await canvas.BoundingBoxAsync();

        await page.GotoAsync($"/?prior={Prior}&image=gallery%3A0&op=denoise&noise=gaussian&sigmaY=0.05&solver=ddim&steps=3&seed=1");
        await LabBrowserTests.WaitForInteractiveAsync(page);
        await page.SetInputFilesAsync("#upload-input", new FilePayload { Name = "wide.png", MimeType = "image/png", Buffer = Png(90, 40) });
        await Assertions.Expect(page.Locator("[data-testid=upload-note]")).ToContainTextAsync("256×256 pixels, in grey", new() { Timeout = 30_000 });
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("image=upload"));

        await page.ClickAsync("#run-button");
        await Assertions.Expect(page.Locator("[data-testid=run-status]")).ToHaveAttributeAsync("data-status", "finished", new() { Timeout = 120_000 });
        await Assertions.Expect(canvas).ToHaveAttributeAsync("data-step", "2", new() { Timeout = 30_000 }); // the final frame of three
        Assert.True(int.Parse(await canvas.GetAttributeAsync("data-frames") ?? "0") >= 1);

        var runId = await page.GetAttributeAsync("[data-testid=run-status]", "data-run-id");
        var latest = server.Runs.Find(runId!)!.Latest!;
        using (var frame = SKBitmap.Decode(latest.Xt!.Png))
            Assert.Equal((256, 256), (frame.Width, frame.Height)); // the frame on the wire has the prior's size

        // Downloads keep the picture's own pixels: a 32-pixel result is enlarged 8 times, a 256-pixel one not at all.
        var download = await context.APIRequest.GetAsync($"runs/{runId}/result.png");
        Assert.Equal(200, download.Status);
        using (var result = SKBitmap.Decode(await download.BodyAsync()))
            Assert.Equal((256, 256), (result.Width, result.Height));

        var large = await canvas.BoundingBoxAsync();
        Assert.Equal(small!.Width, large!.Width, 1);
        Assert.Equal(small.Height, large.Height, 1);
        // Drawn at the canvas's own display size (its backing store matches the box, not the image), and drawn at all.
        var drawn = await canvas.EvaluateAsync<double[]>(
            "c => { const r = window.devicePixelRatio || 1; const d = c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data;" +
            " return [c.width, Math.round(c.clientWidth * r), c.height, Math.round(c.clientHeight * r), d[3]]; }");
        Assert.Equal(drawn[1], drawn[0]);
        Assert.Equal(drawn[3], drawn[2]);
        Assert.Equal(255, drawn[4]);
        Directory.CreateDirectory(BrowserFixture.ScreenshotFolder);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotFolder, "lab-256-grey-prior.png"), FullPage = true });
        await context.CloseAsync();
    }
}
