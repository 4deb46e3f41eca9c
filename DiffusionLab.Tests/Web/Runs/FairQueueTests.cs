using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>The waiting line that serves browsers in turn.</summary>
public sealed class FairQueueTests
{
    [Fact]
    public void Browsers_are_served_in_turn_and_the_serve_order_says_so()
    {
        var queue = new FairQueue<string>();
        foreach (var run in new[] { "a1", "a2", "a3", "a4" }) queue.Enqueue("A", run);
        queue.Enqueue("B", "b1");
        queue.Enqueue("C", "c1");
        queue.Enqueue("B", "b2");

        Assert.Equal(["a1", "b1", "c1", "a2", "b2", "a3", "a4"], queue.InServeOrder());
        var served = new List<string>();
        while (queue.TakeNext() is { } next) served.Add(next);
        Assert.Equal(["a1", "b1", "c1", "a2", "b2", "a3", "a4"], served);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void A_browser_with_work_running_or_just_served_waits_behind_one_that_has_none()
    {
        var queue = new FairQueue<string>();
        queue.Enqueue("A", "a1");
        Assert.Equal("a1", queue.TakeNext());
        queue.Enqueue("A", "a2"); // A's line was empty: it comes back, but was served a moment ago
        queue.Enqueue("B", "b1");
        var running = new Dictionary<string, int> { ["A"] = 1 };
        Assert.Equal(["b1", "a2"], queue.InServeOrder(b => running.GetValueOrDefault(b)));

        running.Clear(); // a1 ended: A and B have nothing running, and A had the last turn
        Assert.Equal("b1", queue.TakeNext(inService: b => running.GetValueOrDefault(b)));
    }

    [Fact]
    public void A_request_that_cannot_start_yet_keeps_its_browsers_place_and_a_removed_one_is_gone()
    {
        var queue = new FairQueue<string>();
        queue.Enqueue("A", "a-big");
        queue.Enqueue("A", "a-small");
        queue.Enqueue("B", "b-small");
        Assert.True(queue.Remove("a-small"));
        Assert.False(queue.Remove("a-small"));

        Assert.Equal("b-small", queue.TakeNext(run => run.EndsWith("small", StringComparison.Ordinal)));
        Assert.Null(queue.TakeNext(run => run.EndsWith("small", StringComparison.Ordinal)));
        Assert.Equal("a-big", queue.TakeNext());
    }
}
