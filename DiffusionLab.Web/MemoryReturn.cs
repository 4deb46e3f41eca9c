using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Runs;
using System.Runtime;
using System.Runtime.InteropServices;

namespace DiffusionLab.Web;

/// <summary>
/// Gives memory back to the machine after a burst of work. libtorch allocates tensors with the C
/// allocator from many threads (each run's own thread, the scheduler's workers, the hub threads
/// drawing 2-D pictures), and glibc keeps what those threads freed in per-thread arenas for reuse,
/// so a class's burst of runs leaves the process hundreds of megabytes larger long after it ended.
/// Every <see cref="Period"/>, when work has ended since the last look, this asks glibc to return
/// the free pages of every arena (malloc_trim) and, once nothing is running, lets the garbage
/// collector compact its heaps first, so that what was freed there goes back too.
/// </summary>
public sealed class MemoryReturn(ILiveRuns runs, ToyPictures pictures, ILogger<MemoryReturn> logger) : BackgroundService
{
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(20);

    int runsEnded;
    long picturesSeen;
    bool trimUnavailable;

    /// <summary>Times memory was handed back (a count the tests can watch).</summary>
    internal int Returns { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        runs.RunEnded += _ => Interlocked.Increment(ref runsEnded);
        using var timer = new PeriodicTimer(Period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) ReturnIfWorkEnded();
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Hands memory back when runs ended or pictures were drawn since the last time.</summary>
    internal void ReturnIfWorkEnded()
    {
        var ended = Interlocked.Exchange(ref runsEnded, 0);
        var drawn = pictures.Computed;
        if (ended == 0 && drawn == picturesSeen) return;
        picturesSeen = drawn;
        var before = ResidentBytes();
        if (runs.ActiveCount == 0)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        }
        TrimNativeHeap();
        Returns++;
        // Where the memory is, for whoever runs a class on this server: the managed heap's share,
        // and the rest (libtorch, SkiaSharp, the runtime itself) that only the C allocator can return.
        var managed = GC.GetGCMemoryInfo();
        logger.LogInformation("Handed memory back after work ended: resident {Before} → {After} MB; managed heap {Heap} MB ({Committed} MB committed), the rest native",
            Megabytes(before), Megabytes(ResidentBytes()), Megabytes(managed.HeapSizeBytes), Megabytes(managed.TotalCommittedBytes));
    }

    static long? Megabytes(long? bytes) => bytes / (1024 * 1024);

    /// <summary>The process's resident memory (VmRSS) on Linux; null elsewhere.</summary>
    static long? ResidentBytes()
    {
        if (!OperatingSystem.IsLinux()) return null;
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is not null && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kilobytes) ? kilobytes * 1024 : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    void TrimNativeHeap()
    {
        if (trimUnavailable || !OperatingSystem.IsLinux()) return;
        try
        {
            MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            trimUnavailable = true; // not glibc (musl, say): its allocator returns memory its own way
            logger.LogInformation("The C library has no malloc_trim; freed native memory is left to it.");
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int MallocTrim(nuint pad);
}
