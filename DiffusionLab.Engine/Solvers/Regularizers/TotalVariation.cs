using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers.Regularizers;

/// <summary>
/// Isotropic total variation, R(x) = Σ_channels Σ_pixels √((∂₁x)² + (∂₂x)²) with forward
/// differences that are zero across the last row and column (Neumann boundary). It is the
/// negative log of a prior that expects images to be made of flat patches with sharp edges,
/// so it removes noise but turns smooth shading into steps ("staircasing").
/// </summary>
/// <remarks>
/// The prox is computed by Chambolle's (2004) projection algorithm on the dual variable p,
/// per channel: p ← (p + τ∇(div p − v/w)) / (1 + τ|∇(div p − v/w)|), then x = v − w div p.
/// τ = 1/8 is the step his convergence theorem covers. A sample [B, D] is treated as one row of
/// D pixels and [B, C, D] as C such rows, so the 2-D lab and vector priors get 1-D TV.
/// </remarks>
public sealed class TotalVariation : IRegularizer
{
    const double Tau = 0.125;

    /// <param name="proxIterations">Dual iterations per prox: more gives a more exact prox (the error falls like 1/iterations).</param>
    public TotalVariation(int proxIterations = 60)
    {
        if (proxIterations < 1) throw new ArgumentOutOfRangeException(nameof(proxIterations), "at least one iteration");
        ProxIterations = proxIterations;
    }

    public int ProxIterations { get; }

    public string Name => "total variation";

    public int NetworkEvaluations => 0;

    public Tensor Prox(Tensor v, double weight)
    {
        if (!(weight >= 0)) throw new ArgumentOutOfRangeException(nameof(weight), "the prox weight must be non-negative");
        if (weight == 0) return v.clone();
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var g = AsChannelImages(v);
        var p1 = zeros_like(g);
        var p2 = zeros_like(g);
        for (int n = 0; n < ProxIterations; n++)
        {
            using var iteration = NewDisposeScope();
            var (d1, d2) = Gradient(Divergence(p1, p2) - g.DividedBy(weight));
            var denominator = d1.Squared().Plus(d2.Squared()).sqrt_().TimesInPlace(Tau).PlusInPlace(1);
            p1.PlusScaledInPlace(d1, Tau).div_(denominator);
            p2.PlusScaledInPlace(d2, Tau).div_(denominator);
        }
        var x = g - Divergence(p1, p2).Times(weight);
        return x.reshape(v.shape).MoveToOuterDisposeScope();
    }

    public Tensor? Value(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (d1, d2) = Gradient(AsChannelImages(x));
        var perChannel = d1.Squared().Plus(d2.Squared()).sqrt();
        return perChannel.reshape(x.shape[0], -1).sum(1).MoveToOuterDisposeScope();
    }

    /// <summary>[B, C, H, W] → [B·C, H, W]; vectors become rows of one pixel height.</summary>
    static Tensor AsChannelImages(Tensor x) => x.dim() switch
    {
        2 => x.reshape(x.shape[0], 1, x.shape[1]),
        3 => x.reshape(x.shape[0] * x.shape[1], 1, x.shape[2]),
        4 => x.reshape(x.shape[0] * x.shape[1], x.shape[2], x.shape[3]),
        _ => throw new ArgumentException($"total variation needs samples shaped [C, H, W], [C, D] or [D], not a tensor of rank {x.dim()}", nameof(x)),
    };

    /// <summary>Forward differences along rows (∂₁) and columns (∂₂) of [N, H, W], zero in the last row / column.</summary>
    static (Tensor D1, Tensor D2) Gradient(Tensor u)
    {
        long h = u.shape[1], w = u.shape[2];
        var d1 = h > 1 ? nn.functional.pad(u[.., 1.., ..] - u[.., ..(int)(h - 1), ..], [0, 0, 0, 1]) : zeros_like(u);
        var d2 = w > 1 ? nn.functional.pad(u[.., .., 1..] - u[.., .., ..(int)(w - 1)], [0, 1]) : zeros_like(u);
        return (d1, d2);
    }

    /// <summary>div = −∇ᵀ for the gradient above (Chambolle 2004, eq. 2.2), given p whose last row / column are zero.</summary>
    static Tensor Divergence(Tensor p1, Tensor p2)
    {
        long h = p1.shape[1], w = p1.shape[2];
        var div = p1.Plus(p2);
        if (h > 1) div.sub_(nn.functional.pad(p1[.., ..(int)(h - 1), ..], [0, 0, 1, 0]));
        if (w > 1) div.sub_(nn.functional.pad(p2[.., .., ..(int)(w - 1)], [1, 0]));
        return div;
    }
}
