using DiffusionLab.Engine.Runs;
using DiffusionLab.Web;
using DiffusionLab.Web.Features.Diversity;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Uploads;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;
using System.Net;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// A run on an uploaded image is the uploader's at every door, not only on its replay page: the
/// downloads, the watch page and the hubs' frames, keyframes and snapshots serve it to the browser
/// that uploaded the image and refuse every other browser (and one without a cookie) with a 404 or
/// a message.
/// </summary>
public sealed class PrivateRunsTests(LabServerFixture fixture) : IClassFixture<LabServerFixture>
{
    const string Uploader = "0123456789abcdef0123456789abcdef", Someone = "fedcba9876543210fedcba9876543210";

    LabServer Server => fixture.Server;

    HubConnection Hub(string path, string? browser) => new HubConnectionBuilder()
        .WithUrl(new Uri(Server.BaseAddress, path), options =>
        {
            if (browser is not null) options.Cookies.Add(new Cookie(BrowserIdentity.CookieName, browser, "/", Server.BaseAddress.Host));
        })
        .AddMessagePackProtocol()
        .Build();

    async Task<HttpResponseMessage> Get(string path, string? browser)
    {
        using var http = new HttpClient { BaseAddress = Server.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (browser is not null) request.Headers.Add("Cookie", $"{BrowserIdentity.CookieName}={browser}");
        return await http.SendAsync(request);
    }

    /// <summary>The uploader's image in the server's uploads, and a finished run on it that the uploader started over the hub.</summary>
    async Task<string> FinishedRunOnAnUpload()
    {
        var spec = SpecOnAnUpload();
        await using var hub = Hub("hubs/runs", Uploader);
        await hub.StartAsync();
        var reply = await hub.InvokeAsync<StartRunReply>("StartRun", spec);
        Assert.Empty(reply.Problems);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await foreach (var _ in hub.StreamAsync<RunFrame>("Frames", reply.RunId, timeout.Token)) { }
        Assert.True(SpinWait.SpinUntil(() => Server.Runs.Find(reply.RunId!)?.IsOver == true, TimeSpan.FromSeconds(60)));
        return reply.RunId!;
    }

    /// <summary>A quick run's spec on a new image the uploader uploaded.</summary>
    string SpecOnAnUpload()
    {
        var catalog = Server.Services.GetRequiredService<LabCatalog>();
        using var bitmap = new SKBitmap(40, 40);
        bitmap.Erase(SKColors.OrangeRed);
        using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        var (reference, error) = Server.Services.GetRequiredService<IUploadStore>()
            .Add(png.ToArray(), catalog.ImageSize("gmm-image"), catalog.ImageChannels("gmm-image"), Uploader);
        Assert.Null(error);
        return LabServer.QuickSpec.Replace("image=sample%3A0", "image=" + Uri.EscapeDataString(reference!.ToString()));
    }

    [Fact]
    public async Task Its_saved_replay_and_a_saved_batch_on_the_upload_answer_404_to_every_browser_but_the_uploaders()
    {
        var id = await FinishedRunOnAnUpload();
        Assert.True(SpinWait.SpinUntil(() => Server.Store.Get(id) is not null, TimeSpan.FromSeconds(60)), "the run was never saved");
        var (batch, refusal) = Server.Services.GetRequiredService<DiversityService>()
            .Start(ExperimentSpec.Parse(SpecOnAnUpload()).Spec!, 2, "private-runs-test", owner: Uploader);
        Assert.True(batch is not null, refusal);
        Assert.True(SpinWait.SpinUntil(() => batch.IsSaved, TimeSpan.FromSeconds(120)), $"the batch was never saved ({batch.Status}, {batch.Saving})");

        foreach (var (path, shown, missing) in new[] { ($"/runs/{id}", "replay-scrubber", "replay-missing"), ($"/runs/diversity/{batch.Id}", "diversity-batch-rerun", "diversity-batch-missing") })
        {
            using (var mine = await Get(path, Uploader))
            {
                Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
                Assert.Contains(shown, await mine.Content.ReadAsStringAsync());
            }
            foreach (var other in new[] { Someone, null })
            {
                using var refused = await Get(path, other);
                Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
                var html = await refused.Content.ReadAsStringAsync();
                Assert.True(html.Contains($"data-testid=\"{missing}\""), html);
                Assert.Contains("only the browser that uploaded it", html);
                Assert.DoesNotContain(shown, html);
            }
        }
        // A run nobody has is still a plain page saying so, not an error.
        using var unknown = await Get("/runs/nosuchrun000", Someone);
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
    }

    [Fact]
    public async Task The_downloads_and_the_watch_page_answer_404_to_every_browser_but_the_uploaders()
    {
        var id = await FinishedRunOnAnUpload();

        foreach (var path in new[] { $"/runs/{id}/result.png", $"/runs/{id}/trajectory.png" })
        {
            using (var mine = await Get(path, Uploader))
            {
                Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
                Assert.Equal("image/png"[..6], mine.Content.Headers.ContentType!.MediaType![..6]);
            }
            foreach (var other in new[] { Someone, null })
            {
                using var refused = await Get(path, other);
                Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
                Assert.Contains("only the browser that uploaded it", await refused.Content.ReadAsStringAsync());
            }
        }

        using (var mine = await Get($"/watch/{id}", Uploader))
        {
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
            Assert.DoesNotContain("watch-refused", await mine.Content.ReadAsStringAsync());
        }
        foreach (var other in new[] { Someone, null })
        {
            using var refused = await Get($"/watch/{id}", other);
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
            var html = await refused.Content.ReadAsStringAsync();
            Assert.True(html.Contains("data-testid=\"watch-refused\""), html);
            Assert.Contains("only the browser that uploaded it", html);
        }
    }

    [Fact]
    public async Task The_hubs_serve_its_frames_keyframes_and_watch_snapshot_only_to_the_uploader()
    {
        var id = await FinishedRunOnAnUpload();

        await using (var runs = Hub("hubs/runs", Uploader))
        await using (var watch = Hub("hubs/watch", Uploader))
        {
            await Task.WhenAll(runs.StartAsync(), watch.StartAsync());
            Assert.NotEmpty(await runs.InvokeAsync<RunFrame[]>("Keyframes", id));
            var frames = new List<RunFrame>();
            await foreach (var frame in runs.StreamAsync<RunFrame>("Frames", id)) frames.Add(frame);
            Assert.True(frames[^1].IsFinal);
            var snapshot = await watch.InvokeAsync<WatchSnapshot>("Watch", id);
            Assert.NotEmpty(snapshot.Frames);
            Assert.NotEmpty(snapshot.GroundTruth);
        }

        foreach (var other in new[] { Someone, null })
        {
            await using var runs = Hub("hubs/runs", other);
            await using var watch = Hub("hubs/watch", other);
            await Task.WhenAll(runs.StartAsync(), watch.StartAsync());
            var refusals = new[]
            {
                await Assert.ThrowsAsync<HubException>(() => runs.InvokeAsync<RunFrame[]>("Keyframes", id)),
                await Assert.ThrowsAsync<HubException>(async () => { await foreach (var _ in runs.StreamAsync<RunFrame>("Frames", id)) { } }),
                await Assert.ThrowsAsync<HubException>(() => watch.InvokeAsync<WatchSnapshot>("Watch", id)),
            };
            Assert.All(refusals, refusal => Assert.Contains("only the browser that uploaded it", refusal.Message));
        }
    }
}
