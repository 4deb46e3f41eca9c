using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Tests.Runs;

/// <summary>The scheduler's decisions on their own: no threads, no networks, just waiting calls in and a batch out.</summary>
public class BatchPolicyTests
{
    static readonly object Faces = new(), Emoji = new();
    static readonly BatchPolicy Policy = new(MaxBatch: 4, MaxPerClient: 2, GatherWindow: TimeSpan.FromMilliseconds(15));

    static WaitingCall Call(string client, long samples = 1, object? prior = null, bool guided = false) =>
        new(prior ?? Faces, guided, client, samples);

    [Fact]
    public void Nothing_waiting_gives_an_empty_batch_and_no_reason_to_go()
    {
        Assert.Empty(Policy.NextBatch([]));
        Assert.False(Policy.GoesNow([], runsOnPrior: 0));
    }

    [Fact]
    public void Alone_the_calls_go_oldest_first_up_to_the_batch_cap()
    {
        var waiting = Enumerable.Range(0, 6).Select(i => Call("client-" + i)).ToList();
        Assert.Equal([0, 1, 2, 3], Policy.NextBatch(waiting));
    }

    [Fact]
    public void One_crowd_gets_its_share_and_a_later_student_still_gets_in()
    {
        var waiting = Enumerable.Range(0, 6).Select(_ => Call("crowd")).Append(Call("student")).ToList();
        // The crowd's two oldest (its share), the student although it came last, then the crowd's
        // next oldest fills the free place: the share never leaves a place empty.
        Assert.Equal([0, 1, 6, 2], Policy.NextBatch(waiting));
    }

    [Fact]
    public void A_lone_client_is_not_held_to_its_share_when_nobody_else_waits()
    {
        var waiting = Enumerable.Range(0, 5).Select(_ => Call("teacher")).ToList();
        Assert.Equal([0, 1, 2, 3], Policy.NextBatch(waiting));
    }

    [Fact]
    public void A_batch_holds_one_network_and_one_kind_chosen_by_the_oldest_call()
    {
        var waiting = new List<WaitingCall>
        {
            Call("a", prior: Emoji, guided: true),
            Call("b", prior: Faces, guided: true),
            Call("c", prior: Emoji, guided: false),
            Call("d", prior: Emoji, guided: true),
        };
        Assert.Equal([0, 3], Policy.NextBatch(waiting));
        Assert.Equal([0], Policy.NextBatch([waiting[1], waiting[2], waiting[3]]));
        Assert.Equal([0], Policy.NextBatch([waiting[2], waiting[0], waiting[3]]));
    }

    [Fact]
    public void Samples_not_calls_count_against_the_cap_and_the_oldest_goes_even_when_it_alone_is_over()
    {
        // A diversity batch of three samples and single runs: 3 + 1 fills the cap, the 2 no longer fits, the 1 after it does not either.
        Assert.Equal([0, 1], Policy.NextBatch([Call("diversity", 3), Call("a"), Call("b", 2), Call("c")]));
        // A call larger than the whole cap still goes (alone), or it would never be served.
        Assert.Equal([0], Policy.NextBatch([Call("big", 9), Call("a")]));
        // The share counts samples too: x's two samples are its share, so its next call waits while y and z fill the batch.
        Assert.Equal([0, 2, 3], Policy.NextBatch([Call("x", 2), Call("x", 1), Call("y"), Call("z")]));
    }

    [Fact]
    public void A_batch_goes_at_once_when_every_run_on_its_network_is_asking_or_the_batch_is_full()
    {
        var two = new List<WaitingCall> { Call("a"), Call("b") };
        Assert.True(Policy.GoesNow(two, runsOnPrior: 2));
        Assert.False(Policy.GoesNow(two, runsOnPrior: 3)); // a third run is between steps: wait for it
        // Calls on another network do not count as this network's runs asking.
        Assert.False(Policy.GoesNow([Call("a"), Call("b", prior: Emoji)], runsOnPrior: 2));
        var full = Enumerable.Range(0, 4).Select(i => Call("c" + i)).ToList();
        Assert.True(Policy.GoesNow(full, runsOnPrior: 10));
    }

    [Fact]
    public void The_gather_time_grows_with_a_slow_network_but_stays_bounded()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(15), Policy.GatherTime(TimeSpan.Zero));
        Assert.Equal(TimeSpan.FromMilliseconds(15), Policy.GatherTime(TimeSpan.FromMilliseconds(40)));
        Assert.Equal(TimeSpan.FromMilliseconds(100), Policy.GatherTime(TimeSpan.FromMilliseconds(400)));
        Assert.Equal(BatchPolicy.LongestGather, Policy.GatherTime(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void A_split_is_as_even_as_whole_calls_allow_and_serves_every_call_once()
    {
        var parts = BatchPolicy.Split([1, 1, 1, 1, 1], 2);
        Assert.Equal([3, 2], parts.Select(p => p.Count));
        Assert.Equal([0, 1, 2, 3, 4], parts.SelectMany(p => p).Order());

        // Largest first onto the emptiest part: 4 | 3 + 1 | 2 + 2.
        var uneven = BatchPolicy.Split([2, 4, 1, 3, 2], 3);
        Assert.Equal([[1], [3, 2], [0, 4]], uneven.Select(p => p.ToArray()).ToArray());

        Assert.Equal([[0, 1]], BatchPolicy.Split([5, 5], 1).Select(p => p.ToArray()).ToArray());
        Assert.Equal(2, BatchPolicy.Split([5, 5], 8).Count); // never more parts than calls
    }
}
