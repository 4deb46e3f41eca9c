using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// Classifier-free guidance (Ho &amp; Salimans 2022) as a prior: a class-conditional UNet asked for
/// one class per sample, with ε̃ = (1 + w) ε(x_t, t, c) − w ε(x_t, t) — w = 0 samples the class as
/// learned, larger w trades variety for samples more typical of their class. Both predictions come
/// from one network call on a doubled batch. The batch a solver passes must match the classes given.
/// </summary>
public sealed class ClassGuidedDenoiser : IDenoiser, IDisposable
{
    readonly UNet network;
    readonly Tensor classes;
    readonly double guidance;

    /// <param name="classes">Class number of each sample of the batch the solver will pass.</param>
    /// <param name="guidance">w ≥ 0.</param>
    public ClassGuidedDenoiser(UNet network, long[] classes, double guidance)
    {
        if (network.Config.ClassCount == 0) throw new ArgumentException($"{network.Name} is not class-conditional, so it cannot be guided toward a class", nameof(network));
        if (classes.Any(c => c < 0 || c >= network.Config.ClassCount))
            throw new ArgumentOutOfRangeException(nameof(classes), $"{network.Name} has classes 0 to {network.Config.ClassCount - 1}");
        if (!(guidance >= 0) || double.IsInfinity(guidance)) throw new ArgumentOutOfRangeException(nameof(guidance), "the guidance weight is a number of at least 0");
        this.network = network;
        this.classes = tensor(classes, device: network.Device);
        this.guidance = guidance;
    }

    /// <summary>Class numbers for <paramref name="n"/> samples, every class an equal share in runs (a grid then reads class by class).</summary>
    public static long[] EvenShares(int n, int classCount) => Enumerable.Range(0, n).Select(i => (long)i * classCount / n).ToArray();

    public string Name => network.Name;
    public NoiseSchedule Schedule => network.Schedule;
    public long[] SampleShape => network.SampleShape;
    public Device Device => network.Device;

    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        long b = xt.shape[0];
        if (b != classes.shape[0]) throw new ArgumentException($"this guided prior was given {classes.shape[0]} classes but asked for a batch of {b}", nameof(xt));
        using var scope = NewDisposeScope();
        using var none = ScalarArithmetic.Full([b], (long)network.Config.ClassCount, int64, xt.device);
        var both = network.PredictNoise(cat([xt, xt]), cat([t, t]), cat([classes, none]));
        var conditional = both.narrow(0, 0, b);
        var unconditional = both.narrow(0, b, b);
        return (conditional.Times(1 + guidance) - unconditional.Times(guidance)).MoveToOuterDisposeScope();
    }

    public void Dispose() => classes.Dispose();
}
