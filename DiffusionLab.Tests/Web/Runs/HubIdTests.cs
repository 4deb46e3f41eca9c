using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// A null, empty, huge or mistyped run id sent to a hub method gets a message that says what is
/// wrong with it (after SignalR's own "An unexpected error occurred invoking ... HubException:"
/// framing, which it puts before every refusal), and the connection stays up.
/// </summary>
public sealed class HubIdTests(LabServerFixture fixture) : IClassFixture<LabServerFixture>
{
    public static TheoryData<string?> BadIds => new() { null, "", "no-such-run", "'; drop table runs; --", new string('x', 20_000), "\u0000\uFFFF" };

    /// <summary>The refusal carries the hub's own sentence about the run, not only SignalR's framing.</summary>
    static void SaysWhy(HubException refusal) =>
        Assert.Matches(@"HubException: (There is no (live |saved )?run|This run cannot be claimed)", refusal.Message);

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task A_bad_id_gets_a_message_from_every_method_that_takes_one(string? id)
    {
        await using var hub = fixture.Server.HubConnection();
        await hub.StartAsync();
        await using var watch = fixture.Server.HubConnection("hubs/watch");
        await watch.StartAsync();

        SaysWhy(await Assert.ThrowsAsync<HubException>(async () => { await foreach (var _ in hub.StreamAsync<object>("Frames", id)) { } }));
        SaysWhy(await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<object>("Keyframes", id)));
        SaysWhy(await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync("StopRun", id)));
        SaysWhy(await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync("ClaimRun", id, id)));
        SaysWhy(await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<object>("SavedRun", id)));
        SaysWhy(await Assert.ThrowsAsync<HubException>(() => watch.InvokeAsync<object>("Watch", id)));
        Assert.Equal(HubConnectionState.Connected, hub.State); // the connection is still good
    }

    [Fact]
    public async Task An_id_of_the_wrong_type_is_refused_without_dropping_the_connection()
    {
        await using var hub = fixture.Server.HubConnection();
        await hub.StartAsync();
        // SignalR refuses these before any hub code runs ("Failed to invoke ... due to an error on the server").
        foreach (var wrong in new object[] { 42, new[] { "a", "b" }, true })
            await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<object>("Keyframes", wrong));
        await Assert.ThrowsAsync<HubException>(() => hub.InvokeAsync<object>("Keyframes", "still-no-such-run"));
        Assert.Equal(HubConnectionState.Connected, hub.State);
    }
}
