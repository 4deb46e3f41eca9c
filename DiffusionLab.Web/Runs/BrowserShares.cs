using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// How much work each browser has going (running or waiting) across the lab, compare, diversity and
/// the 2-D lab, so that one browser cannot fill a server a class shares: past
/// <see cref="LabOptions.MaxRunsPerBrowser"/> a new start is refused with a message that says what
/// to do. A browser is its cookie id (<see cref="BrowserIdentity"/>); work started without one (a
/// test calling a service directly) is counted under whatever key its caller gives.
/// </summary>
public sealed class BrowserShares(IOptions<LabOptions> options)
{
    readonly object gate = new();
    readonly Dictionary<string, int> held = new(StringComparer.Ordinal);

    /// <summary>Most pieces of work one browser may have running or waiting at once.</summary>
    public int MaxPerBrowser { get; } = Math.Max(1, options.Value.MaxRunsPerBrowser);

    /// <summary>Work this browser has going now.</summary>
    public int Held(string browser)
    {
        lock (gate) return held.GetValueOrDefault(browser);
    }

    /// <summary>
    /// Takes <paramref name="count"/> places for <paramref name="browser"/>, or none and a refusal in
    /// plain words when that would go past the cap. Dispose the share when the work has ended.
    /// </summary>
    public Share? TryTake(string browser, out string refusal, int count = 1)
    {
        lock (gate)
        {
            var mine = held.GetValueOrDefault(browser);
            if (mine + count > MaxPerBrowser)
            {
                refusal = Refusal(mine, count);
                return null;
            }
            held[browser] = mine + count;
        }
        refusal = "";
        return new Share(this, browser, count);
    }

    string Refusal(int mine, int count) =>
        count == 1 || mine + 1 > MaxPerBrowser
            ? $"You have {mine} run{(mine == 1 ? "" : "s")} going (at most {MaxPerBrowser} per browser, lab, compare, diversity and 2-D lab together): stop one or wait for one to finish."
            : $"This needs {count} runs and you have {mine} going (at most {MaxPerBrowser} per browser, lab, compare, diversity and 2-D lab together): stop some, choose fewer or wait.";

    void Release(string browser, int count)
    {
        lock (gate)
        {
            var left = held.GetValueOrDefault(browser) - count;
            if (left > 0) held[browser] = left;
            else held.Remove(browser);
        }
    }

    /// <summary>A browser's places for one piece of work; given back once, however often it is disposed.</summary>
    public sealed class Share(BrowserShares shares, string browser, int count) : IDisposable
    {
        int released;

        public string Browser => browser;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) shares.Release(browser, count);
        }
    }
}
