using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>The mixtures the benchmark, the 2-D lab and the image lab start from.</summary>
public static class GaussianMixturePresets
{
    /// <summary>The 2-D presets the toy lab offers, by id.</summary>
    public static IReadOnlyList<string> PlaneIds { get; } = ["ring", "grid", "two-clusters"];

    public static GaussianMixturePrior Plane(string id) => id switch
    {
        "ring" => Ring(),
        "grid" => Grid(),
        "two-clusters" => TwoClusters(),
        _ => throw new ArgumentException($"unknown 2-D preset '{id}' (expected one of {string.Join(", ", PlaneIds)})", nameof(id)),
    };

    /// <summary>
    /// The exact-posterior benchmark of Cardoso et al. (MCGdiff, ICLR 2024): 25 unit-covariance
    /// components with means (−8i, −8j) repeated over the dimensions, i, j ∈ {−2 … 2}, and weights
    /// w_k ∝ z_k², z_k ~ N(0, 1), drawn from <paramref name="generator"/> as in their code.
    /// </summary>
    public static GaussianMixturePrior Benchmark(int dimension, Generator generator)
    {
        if (dimension < 2 || dimension % 2 != 0) throw new ArgumentOutOfRangeException(nameof(dimension), "the benchmark needs an even dimension of at least 2");
        var means = new List<double[]>();
        for (int i = -2; i <= 2; i++)
            for (int j = -2; j <= 2; j++)
                means.Add(Enumerable.Range(0, dimension).Select(c => c % 2 == 0 ? -8.0 * i : -8.0 * j).ToArray());
        using var z = randn(25, float64, generator: generator);
        using var squared = z.Squared();
        var weights = squared.data<double>().Select(w => Math.Max(w, 1e-12)).ToArray();
        return GaussianMixturePrior.Isotropic("gmm-benchmark", [dimension], weights, [.. means], Enumerable.Repeat(1.0, 25).ToArray());
    }

    /// <summary>Eight equal components on a circle.</summary>
    public static GaussianMixturePrior Ring(int count = 8, double radius = 2.5, double standardDeviation = 0.25)
    {
        var means = Enumerable.Range(0, count)
            .Select(k => new[] { radius * Math.Cos(2 * Math.PI * k / count), radius * Math.Sin(2 * Math.PI * k / count) }).ToArray();
        return GaussianMixturePrior.Isotropic("gmm-ring", [2], Enumerable.Repeat(1.0, count).ToArray(), means,
            Enumerable.Repeat(standardDeviation, count).ToArray());
    }

    /// <summary>A 5×5 grid of equal, tight components.</summary>
    public static GaussianMixturePrior Grid(int side = 5, double spacing = 1.5, double standardDeviation = 0.2)
    {
        var means = new List<double[]>();
        double half = (side - 1) / 2.0;
        for (int i = 0; i < side; i++)
            for (int j = 0; j < side; j++)
                means.Add([(i - half) * spacing, (j - half) * spacing]);
        int k = side * side;
        return GaussianMixturePrior.Isotropic("gmm-grid", [2], Enumerable.Repeat(1.0, k).ToArray(), [.. means],
            Enumerable.Repeat(standardDeviation, k).ToArray());
    }

    /// <summary>A broad heavy cluster and a tight light one: samplers that ignore weights show it.</summary>
    public static GaussianMixturePrior TwoClusters() =>
        GaussianMixturePrior.Isotropic("gmm-two-clusters", [2], [0.75, 0.25], [[-1.5, -1.0], [2.0, 1.5]], [0.5, 0.3]);

    /// <summary>
    /// An image-shaped [3, 32, 32] mixture of four smooth procedural scenes (sky over grass, a sun,
    /// diagonal waves, soft checks), each varying by brightness, colour cast and lighting ramps
    /// (rank-6 covariance) plus a little pixel noise, so the image lab runs before a trained UNet exists.
    /// </summary>
    public static GaussianMixturePrior ImageDemo(int size = 32)
    {
        const int channels = 3;
        long dimension = channels * size * size;
        var scenes = new Func<double, double, (double R, double G, double B)>[]
        {
            (u, v) =>
            {
                double ground = 1 / (1 + Math.Exp(-(v - 0.55) * 14));
                return (Lerp(-0.1, -0.5, ground), Lerp(0.25, 0.35, ground), Lerp(0.8, -0.55, ground));
            },
            (u, v) =>
            {
                double r2 = (u - 0.5) * (u - 0.5) + (v - 0.45) * (v - 0.45);
                double sun = Math.Exp(-r2 / (2 * 0.16 * 0.16));
                return (-0.6 + 1.45 * sun, -0.7 + 1.3 * sun, -0.3 + 0.3 * sun);
            },
            (u, v) =>
            {
                double wave = Math.Sin(2 * Math.PI * 1.5 * (u + v));
                return (0.55 * wave, 0.15 - 0.2 * wave, -0.5 * wave);
            },
            (u, v) =>
            {
                double check = Math.Sin(2 * Math.PI * 2 * u) * Math.Sin(2 * Math.PI * 2 * v);
                return (0.6 * check + 0.1, 0.6 * check, 0.6 * check - 0.1);
            },
        };
        var meanValues = new double[scenes.Length * dimension];
        for (int k = 0; k < scenes.Length; k++)
            for (int row = 0; row < size; row++)
                for (int col = 0; col < size; col++)
                {
                    var (r, g, b) = scenes[k](col / (size - 1.0), row / (size - 1.0));
                    long pixel = row * size + col, start = k * dimension;
                    meanValues[start + pixel] = r;
                    meanValues[start + size * size + pixel] = g;
                    meanValues[start + 2 * size * size + pixel] = b;
                }

        // Shared directions of variation: brightness, three colour casts, two lighting ramps.
        const int rank = 6;
        var factorValues = new double[dimension * rank];
        for (int c = 0; c < channels; c++)
            for (int row = 0; row < size; row++)
                for (int col = 0; col < size; col++)
                {
                    long index = (c * size + row) * size + col;
                    double u = col / (size - 1.0) - 0.5, v = row / (size - 1.0) - 0.5;
                    double[] directions = [0.2, c == 0 ? 0.12 : 0, c == 1 ? 0.12 : 0, c == 2 ? 0.12 : 0, 0.35 * u, 0.35 * v];
                    for (int j = 0; j < rank; j++) factorValues[index * rank + j] = directions[j];
                }

        using var means = tensor(meanValues, [scenes.Length, dimension], float64);
        using var factor = tensor(factorValues, [1, dimension, rank], float64);
        using var factors = factor.expand(scenes.Length, dimension, rank).contiguous();
        using var pixelNoise = ScalarArithmetic.Full([scenes.Length, dimension], 0.04 * 0.04, float64);
        return new GaussianMixturePrior(PriorCatalog.ImageDemoId, [channels, size, size], Enumerable.Repeat(1.0, scenes.Length).ToArray(),
            means, pixelNoise, factors);
    }

    static double Lerp(double a, double b, double t) => a + (b - a) * t;
}
