using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Where a run's random numbers come from. Per sample: sample i of a batch draws from its own
/// seeded generator, so a batch of N gives each sample exactly the noise it would draw alone (a
/// posterior-diversity sample is the lab run with that sample's seed). Shared: one stream for the
/// whole batch, for clouds of exchangeable particles (the 2-D lab, the mixture benchmark) whose
/// thousands of samples would pay a generator call each per step.
/// </summary>
public sealed class NoiseSource : IDisposable
{
    readonly Generator[] generators;
    readonly bool owned;

    NoiseSource(Generator[] generators, bool owned)
    {
        this.generators = generators;
        this.owned = owned;
    }

    /// <summary>One generator per sample, seeded in batch order.</summary>
    public static NoiseSource PerSample(IEnumerable<ulong> seeds)
    {
        var generators = seeds.Select(seed => new Generator(seed)).ToArray();
        if (generators.Length == 0) throw new ArgumentException("a run needs at least one sample", nameof(seeds));
        return new NoiseSource(generators, owned: true);
    }

    /// <summary>One stream for the whole batch, made from a seed (disposed with this source).</summary>
    public static NoiseSource Shared(ulong seed) => new([new Generator(seed)], owned: true);

    /// <summary>One stream for the whole batch from a generator the caller keeps (and disposes).</summary>
    public static NoiseSource Shared(Generator generator) => new([generator], owned: false);

    /// <summary>How many generators: the batch size for per-sample noise, 1 for a shared stream.</summary>
    public int Streams => generators.Length;

    /// <summary>Standard normal noise of <paramref name="shape"/> [B, ...]: row i from generator i, or all rows from the shared stream.
    /// Drawn on the CPU (where the seeded generators live) and moved to <paramref name="device"/>, so a seed gives the same noise on every device.</summary>
    public Tensor Normal(long[] shape, Device device)
    {
        if (generators.Length == 1) return OnDevice(randn(shape, generator: generators[0]), device);
        if (shape.Length == 0 || shape[0] != generators.Length)
            throw new ArgumentException($"per-sample noise for {generators.Length} samples cannot fill a batch shaped [{string.Join(", ", shape)}]", nameof(shape));
        using var scope = NewDisposeScope();
        long[] one = [1, .. shape[1..]];
        return OnDevice(cat(generators.Select(g => randn(one, generator: g)).ToArray(), 0), device).MoveToOuterDisposeScope();
    }

    static Tensor OnDevice(Tensor drawn, Device device)
    {
        if (drawn.device == device) return drawn;
        using (drawn) return drawn.to(device);
    }

    public void Dispose()
    {
        if (!owned) return;
        foreach (var generator in generators) generator.Dispose();
    }
}
