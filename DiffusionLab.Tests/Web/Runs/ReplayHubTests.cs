using DiffusionLab.Engine.Runs;
using DiffusionLab.Web;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using System.Net;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The hub method behind the replay page's player (SavedRun on /hubs/runs): a saved run's
/// keyframes, y and x0, and the same privacy rule as the page for runs on an uploaded image.
/// </summary>
public sealed class ReplayHubTests(LabServerFixture fixture) : IClassFixture<LabServerFixture>
{
    const string Uploader = "0123456789abcdef0123456789abcdef", Someone = "fedcba9876543210fedcba9876543210";

    static SavedRun Saved(string id, string image, string owner) => new(
        id, $"prior=gmm-image&image={Uri.EscapeDataString(image)}&op=box-inpainting&solver=dps&steps=3&seed=1", "dps", "Finished", null,
        DateTimeOffset.UnixEpoch, new SavedTimings(1, 2, 30, 3), [],
        Enumerable.Range(0, 3).Select(i => new StepRecord
        {
            Step = i, Total = 3, Xt = StepImage.FromPng([1, (byte)i]), X0Hat = StepImage.FromPng([2, (byte)i]), Psnr = 20 + i, IsFinal = i == 2,
        }).ToArray(),
        GroundTruthPng: [7, 7], MeasurementPng: [8, 8], Owner: owner);

    HubConnection Hub(string? browser) => new HubConnectionBuilder()
        .WithUrl(new Uri(fixture.Server.BaseAddress, "hubs/runs"), options =>
        {
            if (browser is not null) options.Cookies.Add(new Cookie(BrowserIdentity.CookieName, browser, "/", fixture.Server.BaseAddress.Host));
        })
        .AddMessagePackProtocol()
        .Build();

    [Fact]
    public async Task A_saved_run_comes_back_with_its_keyframes_y_and_x0()
    {
        var store = fixture.Server.Services.GetRequiredService<IRunStore>();
        Assert.True(store.Save(Saved("replay-gallery", "gallery:face-00010", Uploader)));
        await using var hub = Hub(browser: null);
        await hub.StartAsync();

        var replay = await hub.InvokeAsync<ReplaySnapshot>("SavedRun", "replay-gallery");

        Assert.Equal([0, 1, 2], replay.Frames.Select(f => f.Step));
        Assert.Equal(new byte[] { 2, 1 }, replay.Frames[1].X0Hat);
        Assert.True(replay.Frames[^1].IsFinal);
        Assert.Equal(new byte[] { 8, 8 }, replay.Measurement);
        Assert.Equal(new byte[] { 7, 7 }, replay.GroundTruth);
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<ReplaySnapshot>("SavedRun", "no-such-run"));
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<ReplaySnapshot>("SavedRun", "'; drop table runs; --"));
    }

    [Fact]
    public async Task A_run_on_an_uploaded_image_is_served_only_to_the_browser_that_uploaded_it()
    {
        var store = fixture.Server.Services.GetRequiredService<IRunStore>();
        Assert.True(store.Save(Saved("replay-upload", "upload:0a1b2c", Uploader)));

        await using (var uploader = Hub(Uploader))
        {
            await uploader.StartAsync();
            Assert.Equal(3, (await uploader.InvokeAsync<ReplaySnapshot>("SavedRun", "replay-upload")).Frames.Length);
        }
        foreach (var other in new[] { Someone, null })
        {
            await using var hub = Hub(other);
            await hub.StartAsync();
            var refused = await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<ReplaySnapshot>("SavedRun", "replay-upload"));
            Assert.Contains("no saved run", refused.Message);
        }
    }
}
