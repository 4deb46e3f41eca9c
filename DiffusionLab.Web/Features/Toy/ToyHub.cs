using DiffusionLab.Engine.Toy;
using Microsoft.AspNetCore.SignalR;
using System.Threading.Channels;
using System.Threading.RateLimiting;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// /hubs/toy (MessagePack, beside the lab's /hubs/runs): the 2-D lab's pictures and runs. A run
/// is a stream: it stops when the browser disposes the subscription (Stop) or the connection
/// closes (the tab was closed), since SignalR cancels the stream's token then. Pictures go
/// through <see cref="ToyPictures"/>: cached, a few computed at once, each connection paced.
/// </summary>
public sealed class ToyHub(ToyRuns toy, ToyPictures pictures) : Hub
{
    const string PaceKey = "toy-pictures-pace";

    /// <summary>Densities, score arrows and diffused particles of a spec's prior at time t, and its exact posterior.</summary>
    public Task<ToyScene> Scene(string specJson, double t) =>
        pictures.SceneAsync(specJson, Math.Clamp(t, 0, 1), Pace(), Context.ConnectionAborted);

    /// <summary>p_t and its score arrows at time t.</summary>
    public async Task<ToyMarginal> Marginal(string specJson, double t)
    {
        try
        {
            return await pictures.MarginalAsync(specJson, Math.Clamp(t, 0, 1), Pace(), Context.ConnectionAborted);
        }
        catch (ArgumentException e)
        {
            throw new HubException(e.Message);
        }
    }

    public ChannelReader<ToyRunFrame> Run(string specJson, CancellationToken cancellation)
    {
        var (spec, problems) = ToySpec.Parse(specJson);
        if (spec is null) throw new HubException(string.Join(" ", problems.Select(p => p.Message)));
        // Runs count against a browser's share, so a connection that names no browser could start without limit.
        var browser = BrowserIdentity.Sent(Context.GetHttpContext()) ?? throw new HubException(BrowserIdentity.MissingMessage);
        var (frames, refusal) = toy.Start(spec, browser, cancellation);
        return frames ?? throw new HubException(refusal);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items.TryGetValue(PaceKey, out var pace)) (pace as IDisposable)?.Dispose();
        return base.OnDisconnectedAsync(exception);
    }

    /// <summary>This connection's own pace, made on its first picture request and let go with the connection.</summary>
    RateLimiter Pace()
    {
        if (Context.Items.TryGetValue(PaceKey, out var pace)) return (RateLimiter)pace!;
        var made = pictures.ForConnection();
        Context.Items[PaceKey] = made;
        return made;
    }
}
