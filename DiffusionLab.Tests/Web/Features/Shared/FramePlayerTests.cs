using Bunit;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// FramePlayer, rendered with bUnit: what it asks of its module (FramePlayer.razor.js) as its
/// parameters change. The drawing itself is the browser's (FramePlayerBrowserTests).
/// </summary>
public sealed class FramePlayerTests : IAsyncLifetime
{
    readonly BunitContext context = new();
    readonly BunitJSModuleInterop player;

    public FramePlayerTests()
    {
        var module = context.JSInterop.SetupModule("./Features/Shared/FramePlayer.razor.js");
        player = module.SetupModule(invocation => invocation.Identifier == "createPlayer");
        player.Mode = JSRuntimeMode.Loose;
    }

    static LabRun Run(string id) => new(id, ExperimentSpec.Default);

    [Fact]
    public void An_owned_live_run_is_followed_with_its_owner_key_and_left_when_it_is_no_longer_listed()
    {
        var first = Run("run-one");
        var second = Run("run-two");
        var rendered = context.Render<FramePlayer>(p => p.Add(f => f.Live, [first]).Add(f => f.OwnsLive, true));

        var follow = player.VerifyInvoke("follow");
        Assert.Equal(["run-one", first.OwnerKey], follow.Arguments);

        rendered.Render(p => p.Add(f => f.Live, [second]).Add(f => f.OwnsLive, true));

        Assert.Equal(["run-one"], player.VerifyInvoke("unfollow").Arguments);
        Assert.Equal(["run-two", second.OwnerKey], player.VerifyInvoke("follow", calledTimes: 2)[1].Arguments);
    }

    [Fact]
    public void Runs_it_does_not_own_are_followed_without_the_key_and_only_once()
    {
        var runs = new List<LabRun> { Run("a"), Run("b") };
        var rendered = context.Render<FramePlayer>(p => p.Add(f => f.Live, runs));
        rendered.Render(p => p.Add(f => f.Live, runs)); // the page re-renders with the same runs

        var follows = player.VerifyInvoke("follow", calledTimes: 2);
        Assert.Equal([["a", null], ["b", null]], follows.Select(i => i.Arguments.ToArray()));
    }

    [Fact]
    public void Only_the_stills_that_changed_are_sent_again()
    {
        byte[] y = [1, 2, 3], truth = [4, 5, 6], newerTruth = [7, 8, 9];
        var rendered = context.Render<FramePlayer>(p => p.Add(f => f.Stills, Stills(y, truth, mean: null)));
        var first = (IReadOnlyDictionary<string, byte[]>)player.VerifyInvoke("showStills").Arguments[0]!;
        Assert.Equal(["measurement", "truth"], first.Keys.Order());

        rendered.Render(p => p.Add(f => f.Stills, Stills(y, truth, mean: null))); // the same pictures: nothing to draw
        player.VerifyInvoke("showStills", calledTimes: 1);

        rendered.Render(p => p.Add(f => f.Stills, Stills(y, newerTruth, mean: null)));
        var second = (IReadOnlyDictionary<string, byte[]>)player.VerifyInvoke("showStills", calledTimes: 2)[1].Arguments[0]!;
        Assert.Equal(["truth"], second.Keys);
        Assert.Same(newerTruth, second["truth"]);
    }

    [Fact]
    public void Metrics_that_are_not_numbers_travel_as_nothing_and_are_sent_once()
    {
        var metrics = FrameMetrics.Of(31.5, double.NaN, 0.02, 1200);
        Assert.Null(metrics.Ssim); // JSON has no NaN: the player shows a dash
        var rendered = context.Render<FramePlayer>(p => p.Add(f => f.Metrics, metrics));
        rendered.Render(p => p.Add(f => f.Metrics, FrameMetrics.Of(31.5, double.NaN, 0.02, 1200)));

        var sent = player.VerifyInvoke("showStills", calledTimes: 1);
        Assert.Equal(metrics, sent[0].Arguments[1]);
    }

    static Dictionary<string, byte[]?> Stills(byte[] y, byte[] truth, byte[]? mean) =>
        new() { ["measurement"] = y, ["truth"] = truth, ["mean"] = mean };

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await context.DisposeAsync();
}
