using static TorchSharp.torch;

namespace DiffusionLab.Engine.Diffusion;

/// <summary>q(x_t | x0): x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε (docs/maths.md §1).</summary>
public static class ForwardProcess
{
    /// <param name="alphaBar">ᾱ per sample, shape [B].</param>
    public static Tensor Sample(Tensor x0, Tensor alphaBar, Tensor noise)
    {
        using var scope = NewDisposeScope();
        var a = Tweedie.PerSample(alphaBar, x0);
        return (a.sqrt() * x0).Plus(a.SubtractedFrom(1).sqrt() * noise).MoveToOuterDisposeScope();
    }
}
