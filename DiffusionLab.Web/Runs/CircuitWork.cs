using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// The work a circuit's pages started (lab and compare runs, diversity batches), one instance per
/// circuit, so that it ends with the circuit. A page's own Dispose runs only when the circuit is
/// torn down, which for a browser that vanished without saying goodbye is after the circuit
/// retention period (minutes); <see cref="CircuitWorkHandler"/> ends the work sooner.
/// </summary>
public sealed class CircuitWork
{
    readonly object gate = new();
    readonly List<(Func<bool> IsOver, Action Stop)> items = [];

    /// <summary>Work to stop if the circuit goes away: <paramref name="stop"/> is called once then, unless <paramref name="isOver"/> says it already ended.</summary>
    public void Add(Func<bool> isOver, Action stop)
    {
        lock (gate)
        {
            items.RemoveAll(item => item.IsOver()); // ended work needs no stopping
            items.Add((isOver, stop));
        }
    }

    /// <summary>Work that has not ended yet.</summary>
    public int Count
    {
        get { lock (gate) return items.Count(item => !item.IsOver()); }
    }

    /// <summary>Stops everything still going.</summary>
    public void StopAll()
    {
        List<(Func<bool> IsOver, Action Stop)> going;
        lock (gate)
        {
            going = items.Where(item => !item.IsOver()).ToList();
            items.Clear();
        }
        foreach (var item in going) item.Stop();
    }
}

/// <summary>
/// Ends a circuit's work (<see cref="CircuitWork"/>) when the circuit closes (a closed tab, whose
/// browser says so), and when its connection has been down for
/// <see cref="LabOptions.CircuitGraceSeconds"/> (a browser that crashed or lost its network;
/// Blazor reconnects after a short blip, so the work waits that long first).
/// </summary>
public sealed class CircuitWorkHandler(CircuitWork work, IOptions<LabOptions> options) : CircuitHandler
{
    readonly object gate = new();
    CancellationTokenSource? grace;

    public override Task OnConnectionDownAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        var waiting = new CancellationTokenSource();
        lock (gate)
        {
            grace?.Cancel();
            grace = waiting;
        }
        _ = EndAfterGraceAsync(waiting.Token);
        return Task.CompletedTask;
    }

    async Task EndAfterGraceAsync(CancellationToken reconnected)
    {
        try
        {
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, options.Value.CircuitGraceSeconds)), reconnected).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        work.StopAll();
    }

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            grace?.Cancel();
            grace = null;
        }
        return Task.CompletedTask;
    }

    public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        lock (gate) grace?.Cancel();
        work.StopAll();
        return Task.CompletedTask;
    }
}
