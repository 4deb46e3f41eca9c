using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using System.Diagnostics;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Benchmarks;

/// <summary>A set of images under a name, for the properties table ("data", "VAE", …).</summary>
public sealed record NamedSamples(string Name, Tensor Images);

/// <summary>One row of the properties table.</summary>
public sealed record PropertiesRow(string Name, int Count, SetProperties Properties);

/// <summary>One row of the inverse-problem table: a solver's mean PSNR and SSIM over the held-out images of one corruption.</summary>
public sealed record InverseProblemRow(string Corruption, string Solver, int Images, double Psnr, double Ssim, double Seconds);

/// <summary>
/// The comparison of the generators with the diffusion prior on one data set: samples of each,
/// their <see cref="SetProperties"/> against held-out images, and each used as a prior for the same
/// corrupted held-out images.
/// </summary>
public static class GeneratorComparison
{
    const int Chunk = 64;

    /// <summary><paramref name="count"/> images G(z), z ~ N(0, I) drawn from <paramref name="seed"/>, in chunks of 64.</summary>
    public static Tensor Sample(IImageGenerator generator, int count, long seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var random = new Generator((ulong)seed);
        var parts = new List<Tensor>();
        for (int start = 0; start < count; start += Chunk)
            parts.Add(generator.Generate(randn([Math.Min(Chunk, count - start), generator.Config.LatentDimension], generator: random)));
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary><paramref name="count"/> samples of a diffusion prior with an unconditional <paramref name="sampler"/> (DDPM, DDIM …), in chunks of 64.</summary>
    public static Tensor Sample(IDenoiser prior, ISolver sampler, int steps, int count, long seed)
    {
        using var scope = NewDisposeScope();
        using var random = new Generator((ulong)seed);
        var parts = new List<Tensor>();
        for (int start = 0; start < count; start += Chunk)
        {
            var context = new SolverContext(prior, null, null, NoiseModel.Gaussian(0), steps, Math.Min(Chunk, count - start), random);
            Tensor? last = null;
            foreach (var step in sampler.Solve(context))
                if (step.IsFinal) last = step.X0Hat.detach().clone();
            parts.Add(last!.Clamped(-1, 1));
        }
        return cat(parts, 0).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The properties of each set against the first half of <paramref name="heldout"/>; the first row,
    /// "data", is the held-out set's second half, the yardstick (what real images of the same number
    /// score, which for precision and recall is below 1).
    /// </summary>
    public static List<PropertiesRow> Properties(Tensor heldout, Tensor training, IEnumerable<NamedSamples> samples, int neighbours = SampleProperties.DefaultNeighbours)
    {
        long half = heldout.shape[0] / 2;
        using var reference = heldout.narrow(0, 0, half);
        using var data = heldout.narrow(0, half, half);
        var rows = new List<PropertiesRow> { new("data", (int)half, SampleProperties.Measure(data, reference, training, neighbours)) };
        foreach (var set in samples)
            rows.Add(new(set.Name, (int)set.Images.shape[0], SampleProperties.Measure(set.Images, reference, training, neighbours)));
        return rows;
    }

    /// <summary>
    /// Each solver on each corruption of every image in <paramref name="images"/> (one batch per
    /// corruption and solver), with the catalog's defaults for that corruption, Gaussian noise σ_y and
    /// the measurement seeded by <paramref name="seed"/>: the same y for every solver.
    /// </summary>
    public static List<InverseProblemRow> SolveHeldout(IDenoiser prior, Tensor images, IEnumerable<string> corruptions, IEnumerable<string> solvers,
        double sigmaY = 0.05, int seed = 1, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>? corruptionParameters = null,
        Action<InverseProblemRow>? report = null)
    {
        var rows = new List<InverseProblemRow>();
        var noise = NoiseModel.Gaussian(sigmaY);
        foreach (var corruption in corruptions)
        {
            var operatorDescriptor = OperatorCatalog.Find(corruption) ?? throw new ArgumentException($"no corruption '{corruption}'", nameof(corruptions));
            var parameters = operatorDescriptor.Parameters.ToDictionary(p => p.Key, p => p.Default);
            if (corruptionParameters?.TryGetValue(corruption, out var chosen) == true)
                foreach (var (key, value) in chosen) parameters[key] = value;
            var measurement = operatorDescriptor.Create(parameters, prior.SampleShape, seed);
            using var noiseStream = new Generator((ulong)seed * 2 + 1);
            using var y = noise.Apply(measurement.Forward(images), noiseStream);
            foreach (var solverId in solvers)
            {
                var descriptor = SolverCatalog.Find(solverId) ?? throw new ArgumentException($"no solver '{solverId}'", nameof(solvers));
                var solver = descriptor.Create(descriptor.DefaultsFor(corruption));
                using var solverStream = new Generator((ulong)seed * 2 + 2);
                var context = new SolverContext(prior, measurement, y, noise, descriptor.DefaultSteps, images.shape[0], solverStream);
                var clock = Stopwatch.StartNew();
                double[] psnr = [], ssim = [];
                foreach (var step in solver.Solve(context))
                {
                    if (!step.IsFinal) continue;
                    using var scope = NewDisposeScope();
                    var answer = step.X0Hat.detach().Clamped(-1, 1);
                    psnr = ImageMetrics.Psnr(answer, images);
                    ssim = ImageMetrics.Ssim(answer, images);
                }
                var row = new InverseProblemRow(corruption, solverId, (int)images.shape[0], psnr.Average(), ssim.Average(), clock.Elapsed.TotalSeconds);
                rows.Add(row);
                report?.Invoke(row);
            }
            (measurement as IDisposable)?.Dispose();
        }
        return rows;
    }
}
