using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A prior whose Tweedie estimate is clipped to the image range: ε is replaced by the ε that
/// corresponds to clamp(x̂0, −1, 1) at x_t (ADM's clip_denoised, written as a prior for the
/// console's sampler; the lab's solvers clip as their own setting instead). Near t = T an ε-model's x̂0 = (x_t − √(1−ᾱ) ε)/√ᾱ divides by
/// √ᾱ ≈ 0.006, so a small ε error becomes a huge x̂0; a briefly trained CPU model's samples are
/// noise without this and faces with it.
/// </summary>
public sealed class ClippedDenoiser(IDenoiser inner, double low = -1, double high = 1) : IDenoiser
{
    public IDenoiser Inner => inner;
    public string Name => inner.Name;
    public NoiseSchedule Schedule => inner.Schedule;
    public long[] SampleShape => inner.SampleShape;
    public Device Device => inner.Device;

    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        using var scope = NewDisposeScope();
        var eps = inner.PredictNoise(xt, t);
        var alphaBar = Schedule.AlphaBar(t, xt.device);
        var x0Hat = Tweedie.X0Hat(xt, eps, alphaBar).Clamped(low, high);
        return Tweedie.EpsFromX0(xt, x0Hat, alphaBar).MoveToOuterDisposeScope();
    }
}
