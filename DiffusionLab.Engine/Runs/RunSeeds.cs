using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// The one seed rule every run follows. Odd streams belong to the problem (the noise of y, the
/// exact samples a run is scored against), even streams to the solver's samples, so the two never
/// share numbers: stream 2·seed + 1 is the problem's, and a sample with sample seed k draws its
/// solver noise from stream 2k + 2.
/// </summary>
/// <remarks>
/// The measurement (A's own randomness and y's noise) depends only on the spec's seed, never on the
/// solver or the sample seed, so every solver of a comparison and every sample of a diversity batch
/// sees the very same y. Diversity sample k of a spec is the lab run of that spec with sample seed
/// <see cref="ExperimentSpec.FirstSampleSeed"/> + k, because each sample draws from its own stream.
/// </remarks>
public static class RunSeeds
{
    /// <summary>The problem's stream: y's noise in the lab, the exact reference samples in the 2-D lab and the mixture benchmark.</summary>
    public static ulong Problem(long seed) => (ulong)seed * 2 + 1;

    /// <summary>The solver's stream for the sample with this sample seed.</summary>
    public static ulong Sample(long sampleSeed) => (ulong)sampleSeed * 2 + 2;

    /// <summary>Per-sample noise for <paramref name="count"/> samples with sample seeds first, first + 1, …</summary>
    public static NoiseSource ForSamples(long firstSampleSeed, int count) =>
        NoiseSource.PerSample(Enumerable.Range(0, count).Select(k => Sample(firstSampleSeed + k)));

    /// <summary>
    /// One shared stream for a cloud of exchangeable particles (the 2-D lab, the mixture benchmark), the
    /// stream of sample seed <paramref name="seed"/>: a cloud of one is that sample's run.
    /// </summary>
    public static NoiseSource ForCloud(long seed) => NoiseSource.Shared(Sample(seed));
}
