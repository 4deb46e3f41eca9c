using System.Threading.Channels;
using DiffusionLab.Engine.Toy;
using Microsoft.AspNetCore.SignalR;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// /hubs/toy (MessagePack, beside the lab's /hubs/runs): the 2-D lab's pictures and runs. A run
/// is a stream: it stops when the browser disposes the subscription (Stop) or the connection
/// closes (the tab was closed), since SignalR cancels the stream's token then.
/// </summary>
public sealed class ToyHub(ToyRuns toy) : Hub
{
    /// <summary>Densities, score arrows and diffused particles of a spec's prior at time t, and its exact posterior.</summary>
    public ToyScene Scene(string specJson, double t) => toy.Scene(specJson, Math.Clamp(t, 0, 1));

    /// <summary>p_t and its score arrows at time t.</summary>
    public ToyMarginal Marginal(string specJson, double t)
    {
        try
        {
            return toy.Marginal(specJson, Math.Clamp(t, 0, 1));
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
}
