using DiffusionLab.Engine.Toy;
using DiffusionLab.Web.Features.Toy;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using System.Runtime.InteropServices;

namespace DiffusionLab.Tests.Web;

/// <summary>/hubs/toy over MessagePack, driven by the SignalR .NET client against the app on Kestrel.</summary>
public sealed class ToyHubTests(LabServerFixture fixture) : IClassFixture<LabServerFixture>
{
    LabServer Server => fixture.Server;

    HubConnection Connect() => Server.HubConnection("hubs/toy");

    static float[] Floats(byte[] bytes) => MemoryMarshal.Cast<byte, float>(bytes).ToArray();

    [Fact]
    public async Task A_run_streams_packed_particles_ending_with_the_final_step_and_a_distance()
    {
        Server.Services.GetRequiredService<ToyRuns>().Paced = false;
        await using var hub = Connect();
        await hub.StartAsync();
        var spec = ToySpec.ForPreset("ring", "dps", new ToyMeasurement(ToyMeasurementKind.ObserveX1, Y: 1.5)) with { Particles = 300, Steps = 30 };

        var frames = new List<ToyRunFrame>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var frame in hub.StreamAsync<ToyRunFrame>("Run", spec.ToJson(), timeout.Token))
            frames.Add(frame);

        Assert.NotEmpty(frames);
        var last = frames[^1];
        Assert.Null(last.Error);
        Assert.True(last.IsFinal);
        Assert.Equal((29, 30), (last.Step, last.Total));
        Assert.True(frames.Select(f => f.Step).SequenceEqual(frames.Select(f => f.Step).Order().Distinct()), "steps arrive in order, none twice");
        Assert.All(frames, f => Assert.Equal(600, Floats(f.Positions).Length));
        Assert.True(double.IsFinite(last.Distance) && last.Distance > 0);
        Assert.True(last.PriorFloor > last.ExactFloor, $"ignoring y ({last.PriorFloor}) scores worse than exact samples ({last.ExactFloor})");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Stop_or_a_closed_tab_ends_the_run_on_the_server(bool closeTheConnection)
    {
        var runs = Server.Services.GetRequiredService<ToyRuns>();
        runs.Paced = true; // 250 paced steps take seconds: the run is surely still going when it is stopped
        var hub = Connect();
        await hub.StartAsync();
        var spec = ToySpec.ForPreset("grid", "ddpm", ToyMeasurement.None) with { Particles = 100 };
        using var stop = new CancellationTokenSource();
        int seen = 0;
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var _ in hub.StreamAsync<ToyRunFrame>("Run", spec.ToJson(), stop.Token))
                    seen++;
            }
            catch (OperationCanceledException) { }
        });
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (Volatile.Read(ref seen) < 3 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.True(seen >= 3, "frames arrive");
        Assert.Equal(1, runs.ActiveCount);

        if (closeTheConnection) await hub.DisposeAsync(); // what closing the tab does
        else stop.Cancel();                                // what Stop does: the browser disposes the stream

        while (runs.ActiveCount > 0 && DateTime.UtcNow < deadline) await Task.Delay(20);
        Assert.Equal(0, runs.ActiveCount);
        Assert.True(seen < 250, $"the run ended early ({seen} frames seen)");
        await hub.DisposeAsync();
        await reading.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(_ => { });
    }

    [Fact]
    public async Task A_spec_with_problems_is_refused_in_plain_words()
    {
        await using var hub = Connect();
        await hub.StartAsync();
        var spec = ToySpec.ForPreset("ring", "dps", ToyMeasurement.None) with { Particles = 5000 };
        var error = await Assert.ThrowsAsync<HubException>(async () =>
        {
            await foreach (var _ in hub.StreamAsync<ToyRunFrame>("Run", spec.ToJson())) { }
        });
        Assert.Contains("Particles must be between 1 and 2000", error.Message);
        Assert.Contains("choose a measurement", error.Message);

        var scene = await hub.InvokeAsync<ToyScene>("Scene", "{ not json", 0.0);
        Assert.NotEmpty(scene.Problems);
    }

    [Fact]
    public async Task The_scene_holds_the_grids_the_particles_and_the_posterior()
    {
        await using var hub = Connect();
        await hub.StartAsync();
        var spec = ToySpec.ForPreset("grid", "ddpm", new ToyMeasurement(ToyMeasurementKind.Line, 1, 1, 0.5, 0.3)) with { Particles = 500 };
        var scene = await hub.InvokeAsync<ToyScene>("Scene", spec.ToJson(), 0.25);
        Assert.Empty(scene.Problems);
        int cells = scene.Resolution * scene.Resolution;
        Assert.Equal(cells, Floats(scene.Density).Length);
        Assert.Equal(cells, Floats(scene.Posterior).Length);
        Assert.Equal(PlanePictures.ArrowResolution * PlanePictures.ArrowResolution * 4, Floats(scene.Arrows).Length);
        Assert.Equal(1000, Floats(scene.Data).Length);
        Assert.Equal(1000, Floats(scene.Noise).Length);
        Assert.Equal(1000, scene.AlphaBars.Length);
        Assert.Equal(5, scene.Extent); // the outer blobs at ±3 with spread 0.2 need ±(3 + 3·0.2 + 0.5), rounded up

        var marginal = await hub.InvokeAsync<ToyMarginal>("Marginal", spec.ToJson(), 1.0);
        var density = Floats(marginal.Density);
        // At t = 1 the data is gone: p_1 is N(0, I) to within ᾱ ≈ 4e-5, whose peak is 1/(2π).
        Assert.Equal(1 / (2 * Math.PI), density.Max(), 2);
    }
}
