namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// Everything the 2-D lab's canvas draws for one prior (and measurement), sent over /hubs/toy
/// (MessagePack). Point sets and grids are packed little-endian float32 bytes, which the browser
/// reads as a Float32Array without decoding each number: points as (x, y) pairs, grids row by
/// row from the bottom-left corner. Property names are the wire names toy.js reads.
/// </summary>
public sealed class ToyScene
{
    /// <summary>The view is the square [−Extent, Extent]².</summary>
    public double Extent { get; init; }
    public int Resolution { get; init; }
    /// <summary>p_t on the grid at the requested t (t = 0: the prior).</summary>
    public byte[] Density { get; init; } = [];
    /// <summary>p(x | y) on the grid, empty without a measurement.</summary>
    public byte[] Posterior { get; init; } = [];
    /// <summary>∇log p_t packed (x, y, ∂x, ∂y) per arrow.</summary>
    public byte[] Arrows { get; init; } = [];
    /// <summary>Exact prior samples x0 and their noise ε, (x, y) pairs: x_t = √ᾱ x0 + √(1 − ᾱ) ε.</summary>
    public byte[] Data { get; init; } = [];
    public byte[] Noise { get; init; } = [];
    /// <summary>ᾱ of every schedule step, so the browser maps t to ᾱ exactly as the engine does.</summary>
    public double[] AlphaBars { get; init; } = [];
    public double T { get; init; }
    /// <summary>Plain-words problems (then nothing else is filled in).</summary>
    public string[] Problems { get; init; } = [];
}

/// <summary>p_t and its score at one t, for the forward-process slider.</summary>
public sealed class ToyMarginal
{
    public double T { get; init; }
    public byte[] Density { get; init; } = [];
    public byte[] Arrows { get; init; } = [];
    /// <summary>Plain-words reason there is no picture now (the lab is busy); then nothing else is filled in.</summary>
    public string[] Problems { get; init; } = [];
}

/// <summary>One step of a 2-D run as the browser receives it.</summary>
public sealed class ToyRunFrame
{
    public int Step { get; init; }
    public int Total { get; init; }
    /// <summary>Diffusion time the particles have reached.</summary>
    public double T { get; init; }
    /// <summary>Particle positions, (x, y) float32 pairs.</summary>
    public byte[] Positions { get; init; } = [];
    /// <summary>A sequential Monte Carlo sampler's particle weights times N (1: an average particle), float32; empty for other solvers.</summary>
    public byte[] Weights { get; init; } = [];
    /// <summary>A sequential Monte Carlo sampler's effective sample size at this step; NaN for other solvers.</summary>
    public double Ess { get; init; } = double.NaN;
    /// <summary>The latest sliced Wasserstein distance to exact target samples (NaN before the first measurement).</summary>
    public double Distance { get; init; } = double.NaN;
    /// <summary>True when <see cref="Distance"/> was measured on this very step (the chart adds a point).</summary>
    public bool DistanceIsNew { get; init; }
    /// <summary>What exact target samples of the same size score, and (with a measurement) what exact prior samples score.</summary>
    public double ExactFloor { get; init; }
    public double PriorFloor { get; init; } = double.NaN;
    /// <summary>How long the server waits between steps: the browser animates from one frame to the next over this time.</summary>
    public double IntervalMs { get; init; }
    public bool IsFinal { get; init; }
    /// <summary>Set when the run failed; the stream ends after it.</summary>
    public string? Error { get; init; }
}
