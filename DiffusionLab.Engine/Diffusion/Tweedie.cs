using static TorchSharp.torch;

namespace DiffusionLab.Engine.Diffusion;

/// <summary>Tweedie's formula for a VP ε-model (docs/maths.md §1): x̂0 = (x_t − √(1−ᾱ) ε) / √ᾱ.</summary>
public static class Tweedie
{
    /// <param name="alphaBar">ᾱ per sample, shape [B].</param>
    public static Tensor X0Hat(Tensor xt, Tensor eps, Tensor alphaBar)
    {
        using var scope = NewDisposeScope();
        var a = PerSample(alphaBar, xt);
        return ((xt - a.SubtractedFrom(1).sqrt() * eps) / a.sqrt()).MoveToOuterDisposeScope();
    }

    /// <summary>The ε that corresponds to an estimate x̂0 at x_t (the inverse of <see cref="X0Hat"/>).</summary>
    public static Tensor EpsFromX0(Tensor xt, Tensor x0, Tensor alphaBar)
    {
        using var scope = NewDisposeScope();
        var a = PerSample(alphaBar, xt);
        return ((xt - a.sqrt() * x0) / a.SubtractedFrom(1).sqrt()).MoveToOuterDisposeScope();
    }

    /// <summary>Score ∇log p_t(x_t) = −ε / √(1−ᾱ).</summary>
    public static Tensor Score(Tensor eps, Tensor alphaBar)
    {
        using var scope = NewDisposeScope();
        return (-eps / PerSample(alphaBar, eps).SubtractedFrom(1).sqrt()).MoveToOuterDisposeScope();
    }

    /// <summary>Reshapes a per-sample vector [B] so it broadcasts against x of shape [B, …].</summary>
    public static Tensor PerSample(Tensor perSample, Tensor like)
    {
        var shape = new long[like.dim()];
        Array.Fill(shape, 1L);
        shape[0] = perSample.shape[0];
        return perSample.to(like.dtype).reshape(shape);
    }
}
