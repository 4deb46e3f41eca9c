using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Measurement noise, y = A(x0) + n. Gaussian noise has standard deviation <c>SigmaY</c> in
/// the [-1, 1] image scale (so 0.05 here is 0.025 on a [0, 1] scale). Poisson noise counts
/// photons: y = 2·Poisson(rate·(A(x0)+1)/2)/rate − 1, so a larger rate means less noise.
/// </summary>
public sealed record NoiseModel(NoiseKind Kind, double SigmaY, double PoissonRate = 0)
{
    public static NoiseModel Gaussian(double sigmaY) => new(NoiseKind.Gaussian, sigmaY);

    /// <summary>Poisson noise; <see cref="SigmaY"/> records its approximate std at mid-grey for solvers that need a Gaussian variance.</summary>
    public static NoiseModel Poisson(double rate) => new(NoiseKind.Poisson, Math.Sqrt(2.0 / rate), rate);

    public Tensor Apply(Tensor clean, Generator generator)
    {
        using var scope = NewDisposeScope();
        switch (Kind)
        {
            case NoiseKind.Gaussian:
                if (SigmaY == 0) return clean.clone().MoveToOuterDisposeScope();
                // Drawn where the seeded generator lives (the CPU), then moved: the same seed gives the same y on every device.
                return clean.Plus(randn(clean.shape, generator: generator, dtype: clean.dtype).to(clean.device).Times(SigmaY)).MoveToOuterDisposeScope();
            case NoiseKind.Poisson:
                var intensity = clean.Plus(1).DividedBy(2).AtLeast(0).Times(PoissonRate).cpu();
                var counts = poisson(intensity, generator).to(clean.device);
                return counts.DividedBy(PoissonRate).Times(2).Minus(1).MoveToOuterDisposeScope();
            default:
                throw new InvalidOperationException($"unknown noise kind {Kind}");
        }
    }

    /// <summary>
    /// Per-sample residual norm used by DPS: ‖y − A(x̂0)‖ for Gaussian noise, and for Poisson
    /// the norm weighted by the inverse of each count's variance (Chung et al., §3.2). Shape [B].
    /// </summary>
    public Tensor ResidualNorm(Tensor y, Tensor predicted)
    {
        using var scope = NewDisposeScope();
        var r = (y - predicted).flatten(1);
        if (Kind == NoiseKind.Poisson)
        {
            var weight = y.Plus(1).DividedBy(2).flatten(1).AtLeast(1.0 / PoissonRate).Times(4).DividedBy(PoissonRate).reciprocal();
            return (r.Squared() * weight).sum(1).sqrt().MoveToOuterDisposeScope();
        }
        return r.Squared().sum(1).sqrt().MoveToOuterDisposeScope();
    }
}

public enum NoiseKind { Gaussian, Poisson }
