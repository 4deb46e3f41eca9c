using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers.Regularizers;

/// <summary>What Tikhonov regularisation pulls the image towards.</summary>
public enum TikhonovCentre
{
    /// <summary>R(x) = ½‖x‖²: towards mid-grey (0 in the [-1, 1] scale); darkens and greys out what y does not pin down.</summary>
    Zero,
    /// <summary>
    /// R(x) = ½‖x − mean(x)‖² with the mean taken per sample and channel: penalises contrast but
    /// not brightness, so unobserved pixels fall back to the image's own average colour.
    /// </summary>
    ChannelMean,
}

/// <summary>
/// Tikhonov (ridge) regularisation, R(x) = ½‖x − c‖², the negative log of a Gaussian prior with
/// variance 1/λ per pixel around c. With the ½ the MAP of ½ sigmaY⁻²‖y − Ax‖² + λR(x) is
/// x* = (AᵀA/sigmaY² + λI)⁻¹ Aᵀy/sigmaY² for c = 0, and λ reads directly as a prior precision.
/// The prox is closed form: prox_{wR}(v) = c + (v − c)/(1 + w) (c is the mean of v for
/// <see cref="TikhonovCentre.ChannelMean"/>, since the prox never changes the mean).
/// </summary>
public sealed class Tikhonov(TikhonovCentre centre = TikhonovCentre.Zero) : IRegularizer
{
    public TikhonovCentre Centre { get; } = centre;

    public string Name => Centre == TikhonovCentre.Zero ? "Tikhonov" : "Tikhonov (around the mean colour)";

    public int NetworkEvaluations => 0;

    public Tensor Prox(Tensor v, double weight)
    {
        if (!(weight >= 0)) throw new ArgumentOutOfRangeException(nameof(weight), "the prox weight must be non-negative");
        using var scope = NewDisposeScope();
        if (Centre == TikhonovCentre.Zero) return v.DividedBy(1 + weight).MoveToOuterDisposeScope();
        var mean = ChannelMean(v);
        return mean.Plus((v - mean).DividedBy(1 + weight)).MoveToOuterDisposeScope();
    }

    public Tensor? Value(Tensor x)
    {
        using var scope = NewDisposeScope();
        var deviation = Centre == TikhonovCentre.Zero ? x : x - ChannelMean(x);
        return deviation.Squared().flatten(1).sum(1).Times(0.5).MoveToOuterDisposeScope();
    }

    /// <summary>Mean over everything but batch and channel ([B, C, H, W] → [B, C, 1, 1]); a vector sample [B, D] is one channel.</summary>
    static Tensor ChannelMean(Tensor x)
    {
        var dims = x.dim() <= 2 ? new long[] { 1 } : Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d).ToArray();
        return x.mean(dims, keepdim: true);
    }
}
