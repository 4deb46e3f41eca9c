namespace DiffusionLab.Web;

/// <summary>Settings of the batched scheduler (section "Scheduler").</summary>
public sealed class SchedulerOptions
{
    /// <summary>Most samples in one batched network call.</summary>
    public int MaxBatch { get; set; } = 32;

    /// <summary>Most samples one client (a browser, a hub connection) gets in a batch while others wait.</summary>
    public int MaxPerClient { get; set; } = 8;

    /// <summary>How long a batch waits for runs that are between steps.</summary>
    public double GatherWindowMs { get; set; } = 15;

    /// <summary>Most threads a batch is split across on the CPU; 0 picks one per core libtorch's threads leave free.</summary>
    public int Parallelism { get; set; }
}
