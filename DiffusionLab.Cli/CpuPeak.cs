using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace DiffusionLab.Cli;

/// <summary>
/// The most single-precision arithmetic one core can do: FLOPs per cycle from the vector extensions
/// /proc/cpuinfo lists, times the clock. A ceiling on paper, to read measured GFLOP/s against.
/// </summary>
/// <param name="Model">The processor's name.</param>
/// <param name="Extension">The widest vector extension found ("AVX-512 + FMA", …).</param>
/// <param name="FlopsPerCycle">fp32 FLOPs per cycle of one core.</param>
/// <param name="Derivation">How <paramref name="FlopsPerCycle"/> follows from the extension, in words.</param>
/// <param name="NominalGhz">The clock /proc/cpuinfo reports ("cpu MHz"); 0 where unknown.</param>
/// <param name="MeasuredGhz">The clock a chain of dependent additions runs at, best of several tries.</param>
sealed record CpuPeak(string Model, string Extension, int FlopsPerCycle, string Derivation, double NominalGhz, double MeasuredGhz)
{
    public double NominalGflops => FlopsPerCycle * NominalGhz;

    public double MeasuredGflops => FlopsPerCycle * MeasuredGhz;

    public static CpuPeak Read()
    {
        var lines = File.Exists("/proc/cpuinfo") ? File.ReadAllLines("/proc/cpuinfo") : [];
        string Field(string name) => lines.FirstOrDefault(l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains(':')) is { } line
            ? line[(line.IndexOf(':') + 1)..].Trim() : "";
        var flags = Field("flags").Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        double mhz = double.TryParse(Field("cpu MHz"), NumberStyles.Float, CultureInfo.InvariantCulture, out var m) ? m : 0;
        // Two vector pipes per core that can each start a fused multiply-add (2 FLOPs per lane) every cycle, as on
        // Intel since Haswell and AMD since Zen 2 at 256 bits; at 512 bits that holds for Zen 5 and Xeons with two
        // AVX-512 FMA units, while Zen 4 and some Xeons have half of it. Without FMA: one add and one multiply pipe.
        var (extension, perCycle, derivation) =
            flags.Contains("avx512f") && flags.Contains("fma") ? ("AVX-512 + FMA", 64, "16 fp32 lanes × 2 FLOPs per fused multiply-add × 2 FMA pipes")
            : flags.Contains("avx2") && flags.Contains("fma") ? ("AVX2 + FMA", 32, "8 fp32 lanes × 2 FLOPs per fused multiply-add × 2 FMA pipes")
            : flags.Contains("avx") ? ("AVX", 16, "8 fp32 lanes × (1 add + 1 multiply pipe)")
            : flags.Contains("sse") || flags.Contains("sse2") ? ("SSE", 8, "4 fp32 lanes × (1 add + 1 multiply pipe)")
            : ("unknown", 0, "no vector extensions listed in /proc/cpuinfo");
        var model = Field("model name");
        return new CpuPeak(model == "" ? "unknown processor" : model, extension, perCycle, derivation, mhz / 1000, MeasureClockGhz());
    }

    /// <summary>How the peak is computed, in one sentence, for the bench's footnote.</summary>
    public string Explain(int threads) =>
        FlopsPerCycle == 0 ? "Theoretical peak unknown: /proc/cpuinfo lists no vector extensions." :
        $"Theoretical peak of one core: {Extension}, {Derivation} = {FlopsPerCycle} FLOP/cycle; at {NominalGhz:0.00} GHz (cpu MHz in /proc/cpuinfo) "
        + $"{NominalGflops:0} GFLOP/s, at {MeasuredGhz:0.00} GHz (measured: a chain of dependent integer additions, one per cycle, best of {Attempts}) {MeasuredGflops:0} GFLOP/s"
        + (threads > 1 ? $"; × {threads} for {threads} threads" : "")
        + ". A virtual machine reports its nominal clock; the measured one is what this core ran at, and long vector code may run a little slower.";

    const int Attempts = 200;

    /// <summary>Cycles per second of this core: a chain of additions and exclusive-ors, each waiting for the one before (one cycle each).</summary>
    static double MeasureClockGhz()
    {
        // Two million dependent operations, half a millisecond a try: short enough that on a busy machine some
        // tries run without being interrupted, and the best of them is the clock.
        const long iterations = 250_000;
        Chain(iterations, 0); // compiled and warmed up before timing
        double best = double.MaxValue;
        long sink = 0;
        for (int attempt = 0; attempt < Attempts; attempt++)
        {
            var clock = Stopwatch.StartNew();
            sink += Chain(iterations, attempt);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        GC.KeepAlive(sink);
        return 8.0 * iterations / best / 1e9;
    }

    // Optimised even in a Debug build, so the chain stays in one register and each operation costs one cycle.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    static long Chain(long iterations, long seed)
    {
        long x = seed;
        for (long i = 0; i < iterations; i++)
        {
            x += i; x ^= 0x5bd1e995; x += i; x ^= 0x1b873593;
            x += i; x ^= 0x2545f491; x += i; x ^= 0x6a09e667;
        }
        return x;
    }
}
