using static TorchSharp.torch;

namespace DiffusionLab.Engine.Benchmarks;

/// <summary>
/// What a set of generated images is like next to held-out data, each figure relative to what the
/// data itself scores, so 1 means "like the data".
/// </summary>
/// <param name="Sharpness">Laplacian energy of the samples ÷ that of the held-out images (below 1: blurrier).</param>
/// <param name="Diversity">Mean pairwise distance of the samples ÷ that of the held-out images (below 1: less varied; 0: one image).</param>
/// <param name="NearestTrainingDistance">Mean distance from a sample to its nearest training image ÷ the same for the held-out
/// images (which were never trained on): well below 1 means samples are copies of training images.</param>
/// <param name="CopiedShare">The share of samples closer to a training image than any held-out image is (a near copy).</param>
/// <param name="Precision">Share of samples inside the held-out images' k-nearest-neighbour manifold (Kynkäänniemi et al. 2019): are the samples realistic?</param>
/// <param name="Recall">Share of held-out images inside the samples' manifold: do the samples cover the data?</param>
public sealed record SetProperties(double Sharpness, double Diversity, double NearestTrainingDistance, double CopiedShare, double Precision, double Recall);

/// <summary>
/// Measures the properties the classic criticisms of VAEs and GANs are about — blur, lost variety,
/// memorised training images, realism against coverage — on sets of images [N, C, S, S] in [-1, 1].
/// Distances are Euclidean in pixel space: at 32 × 32 pixel art the variation that matters (which hair,
/// eyes, glasses, shirt; where their edges are) is the pixels themselves, and no feature network
/// trained on such images exists here. Pixel distance is blind to small shifts, which these aligned
/// faces do not have.
/// </summary>
public static class SampleProperties
{
    /// <summary>The k of the k-nearest-neighbour manifolds (the paper's choice).</summary>
    public const int DefaultNeighbours = 3;

    /// <summary>Mean squared 5-point Laplacian of each channel over the interior pixels, averaged over the images.</summary>
    public static double LaplacianEnergy(Tensor images)
    {
        RequireImages(images, nameof(images));
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = images.to(float32);
        long s = x.shape[2], t = x.shape[3];
        var centre = x.narrow(2, 1, s - 2).narrow(3, 1, t - 2);
        var up = x.narrow(2, 0, s - 2).narrow(3, 1, t - 2);
        var down = x.narrow(2, 2, s - 2).narrow(3, 1, t - 2);
        var left = x.narrow(2, 1, s - 2).narrow(3, 0, t - 2);
        var right = x.narrow(2, 1, s - 2).narrow(3, 2, t - 2);
        var laplacian = up.Plus(down).Plus(left).Plus(right) - centre.Times(4);
        return laplacian.Squared().mean().item<float>();
    }

    /// <summary>Euclidean distances between every row of <paramref name="a"/> and every row of <paramref name="b"/> (images flattened), [Na, Nb].</summary>
    public static Tensor Distances(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = a.flatten(1).to(float64);
        var y = b.flatten(1).to(float64);
        // ‖x − y‖² = ‖x‖² + ‖y‖² − 2 x·y, in double so near-zero distances (copies) stay near zero.
        var squared = x.Squared().sum(1).unsqueeze(1).Plus(y.Squared().sum(1).unsqueeze(0)) - x.matmul(y.t()).Times(2);
        return squared.AtLeast(0).sqrt().MoveToOuterDisposeScope();
    }

    /// <summary>Mean distance between two different images of the set.</summary>
    public static double MeanPairwiseDistance(Tensor images)
    {
        RequireImages(images, nameof(images));
        long n = images.shape[0];
        if (n < 2) throw new ArgumentException("a set's diversity needs at least two images", nameof(images));
        using var distances = Distances(images, images);
        // The diagonal is zero, so the sum over all pairs divided by the n(n − 1) ordered pairs of distinct images.
        return distances.sum().item<double>() / (n * (n - 1.0));
    }

    /// <summary>Each image's distance to its nearest image in <paramref name="references"/>, [N].</summary>
    public static Tensor NearestDistances(Tensor images, Tensor references, long chunk = 256)
    {
        using var scope = NewDisposeScope();
        var parts = new List<Tensor>();
        for (long start = 0; start < images.shape[0]; start += chunk)
        {
            using var block = Distances(images.narrow(0, start, Math.Min(chunk, images.shape[0] - start)), references);
            parts.Add(block.min(1).values);
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of
    /// balls around its points, each ball reaching the point's k-th nearest neighbour in the same set.
    /// Precision is the share of <paramref name="generated"/> inside the real manifold, recall the share
    /// of <paramref name="real"/> inside the generated one.
    /// </summary>
    public static (double Precision, double Recall) PrecisionRecall(Tensor real, Tensor generated, int neighbours = DefaultNeighbours)
    {
        RequireImages(real, nameof(real));
        RequireImages(generated, nameof(generated));
        if (neighbours < 1 || neighbours >= Math.Min(real.shape[0], generated.shape[0]))
            throw new ArgumentOutOfRangeException(nameof(neighbours), $"k must lie between 1 and the smaller set's size − 1, not {neighbours}");
        using var scope = NewDisposeScope();
        var realRadii = NeighbourRadii(real, neighbours);
        var generatedRadii = NeighbourRadii(generated, neighbours);
        var across = Distances(generated, real); // [G, R]
        double precision = across.le(realRadii.unsqueeze(0)).any(1).to(float64).mean().item<double>();
        double recall = across.t().le(generatedRadii.unsqueeze(0)).any(1).to(float64).mean().item<double>();
        return (precision, recall);
    }

    /// <summary>Every figure of <see cref="SetProperties"/> for <paramref name="samples"/>, against <paramref name="heldout"/> and <paramref name="training"/> images.</summary>
    public static SetProperties Measure(Tensor samples, Tensor heldout, Tensor training, int neighbours = DefaultNeighbours)
    {
        using var scope = NewDisposeScope();
        var sampleNearest = NearestDistances(samples, training);
        var heldoutNearest = NearestDistances(heldout, training);
        double closestHeldout = heldoutNearest.min().item<double>();
        var (precision, recall) = PrecisionRecall(heldout, samples, neighbours);
        return new SetProperties(
            Sharpness: LaplacianEnergy(samples) / LaplacianEnergy(heldout),
            Diversity: MeanPairwiseDistance(samples) / MeanPairwiseDistance(heldout),
            NearestTrainingDistance: sampleNearest.mean().item<double>() / heldoutNearest.mean().item<double>(),
            CopiedShare: sampleNearest.LessThan(closestHeldout).to(float64).mean().item<double>(),
            Precision: precision,
            Recall: recall);
    }

    /// <summary>Each point's distance to its k-th nearest other point of the same set.</summary>
    static Tensor NeighbourRadii(Tensor set, int neighbours)
    {
        using var scope = NewDisposeScope();
        var within = Distances(set, set);
        // The smallest k + 1 distances include the point's own zero; the last of them is the k-th neighbour.
        return within.topk(neighbours + 1, dim: 1, largest: false).values.select(1, neighbours).MoveToOuterDisposeScope();
    }

    static void RequireImages(Tensor images, string name)
    {
        if (images.dim() != 4 || images.shape[0] < 1)
            throw new ArgumentException($"a set of images [N, C, S, S] is needed, got [{string.Join(", ", images.shape)}]", name);
    }
}
