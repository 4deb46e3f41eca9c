using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Toy;

/// <summary>
/// What the 2-D lab draws, computed exactly from the mixture: densities on a grid (the prior, its
/// diffused marginal p_t, the posterior), the score field ∇log p_t as arrows, and exact diffused
/// particles. Continuous time t ∈ [0, 1] maps to the schedule's steps as t = (step + 1) / T, with
/// t = 0 the data itself.
/// </summary>
public static class PlanePictures
{
    public const int DensityResolution = 128, ArrowResolution = 21;

    /// <summary>Half-width of the square view: the presets fit in ±4.5, and the view widens for components further out.</summary>
    public static double ViewExtent(IReadOnlyList<ToyComponent> components)
    {
        double reach = components.Count == 0 ? 0 : components.Max(c => Math.Max(Math.Abs(c.X), Math.Abs(c.Y)) + 3 * c.StandardDeviation);
        return Math.Clamp(Math.Ceiling(reach + 0.5), 4.5, ToySpec.MaxCoordinate + 1);
    }

    public static PlaneGrid Grid(double extent, int resolution = DensityResolution) => new(-extent, extent, -extent, extent, resolution, resolution);

    /// <summary>ᾱ at continuous time t: 1 at t = 0 (the data), the schedule's last value at t = 1.</summary>
    public static double AlphaBarAt(NoiseSchedule schedule, double t)
    {
        t = Math.Clamp(t, 0, 1);
        int step = (int)Math.Ceiling(t * schedule.TrainingSteps) - 1;
        return schedule.AlphaBar(Math.Min(step, schedule.TrainingSteps - 1));
    }

    /// <summary>The continuous time of a schedule step (−1, the end of sampling, is t = 0).</summary>
    public static double TimeOfStep(NoiseSchedule schedule, int step) => step < 0 ? 0 : (step + 1.0) / schedule.TrainingSteps;

    /// <summary>p_t on the grid, row by row (row 0 at the bottom), as float densities.</summary>
    public static float[] MarginalDensity(GaussianMixturePrior prior, PlaneGrid grid, double alphaBar) =>
        prior.LogDensityOnGrid(grid, alphaBar).Select(v => (float)Math.Exp(v)).ToArray();

    /// <summary>p(x | y) on the grid, row by row.</summary>
    public static float[] PosteriorDensity(GaussianMixturePosterior posterior, PlaneGrid grid) =>
        posterior.LogDensityOnGrid(grid).Select(v => (float)Math.Exp(v)).ToArray();

    /// <summary>∇log p_t at the points of a coarse grid, packed (x, y, ∂x, ∂y) per arrow.</summary>
    public static float[] ScoreArrows(GaussianMixturePrior prior, double extent, double alphaBar, int resolution = ArrowResolution)
    {
        // Arrows sit at cell centres so none is drawn on the view's edge.
        double cell = 2 * extent / resolution, first = -extent + cell / 2;
        var grid = new PlaneGrid(first, -first, first, -first, resolution, resolution);
        using var scope = NewDisposeScope();
        var points = grid.Points();
        var score = prior.Score(points, ScalarArithmetic.Full([points.shape[0]], alphaBar, float64));
        var packed = cat([points, score], 1).to(float32).contiguous();
        return packed.data<float>().ToArray();
    }

    /// <summary>
    /// The forward process's ingredients for <paramref name="count"/> particles: exact data samples x0
    /// and their noise ε, each packed (x, y). x_t = √ᾱ x0 + √(1 − ᾱ) ε is then exact for every t,
    /// and the browser can slide t smoothly without asking again.
    /// </summary>
    public static (float[] Data, float[] Noise) ForwardParticles(GaussianMixturePrior prior, int count, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var data = prior.Sample(count, generator);
        using var noise = randn([count, 2], float32, generator: generator);
        return (Packed(data), Packed(noise));
    }

    /// <summary>Points [N, 2] as (x, y) pairs.</summary>
    public static float[] Packed(Tensor points)
    {
        using var flat = points.detach().reshape(-1).to(float32).contiguous();
        return flat.data<float>().ToArray();
    }
}
