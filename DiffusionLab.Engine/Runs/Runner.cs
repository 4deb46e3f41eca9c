using System.Diagnostics;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;
using DiffusionLab.Engine.Methods;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// Turns an <see cref="ExperimentSpec"/> into a stream of steps: resolves the prior and the
/// image, builds the corruption from its parameters and the seed, makes the measurement y,
/// and runs the solver, reporting x_t, x0Hat and the metrics of every step.
/// </summary>
/// <remarks>
/// Seeds: the operator and the measurement noise depend only on the spec's seed, never on
/// the solver, so every solver in a comparison sees the very same y. The solver draws from
/// its own stream (seeded from the seed too), and posterior-diversity runs vary only that.
/// </remarks>
public sealed class Runner(PriorCatalog priors, IUploadedImages? uploads = null)
{
    public PriorCatalog Priors { get; } = priors;

    /// <summary>Validates the spec, loads what it names and makes y. Throws <see cref="SpecException"/> listing every problem.</summary>
    public PreparedRun Prepare(ExperimentSpec spec)
    {
        spec = spec.WithDefaults();
        var problems = spec.Validate(Priors.Ids).ToList();
        if (problems.Count > 0) throw new SpecException(problems);

        var prior = Priors.Load(spec.Prior);
        using var scope = NewDisposeScope();
        var x0 = LoadImage(spec, prior, problems);
        if (problems.Count > 0) throw new SpecException(problems);

        var descriptor = OperatorCatalog.Find(spec.Corruption)!;
        var measurement = descriptor.Create(spec.CorruptionParameters, prior.SampleShape, spec.Seed);
        using var noiseStream = new Generator((ulong)spec.Seed * 2 + 1);
        Tensor y;
        using (no_grad())
        {
            using var clean = measurement.Forward(x0);
            y = spec.NoiseModel.Apply(clean, noiseStream);
        }
        var back = measurement.BackProject(y);
        return new PreparedRun(spec, prior, measurement,
            x0.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope(), back.MoveToOuterDisposeScope());
    }

    Tensor LoadImage(ExperimentSpec spec, IDenoiser prior, List<SpecProblem> problems)
    {
        ImageReference.TryParse(spec.Image, out var reference);
        var shape = prior.SampleShape;
        switch (reference!.Source)
        {
            case ImageSource.Gallery:
                var file = Priors.GalleryFile(spec.Prior, reference.Name);
                if (file is null || shape.Length != 3)
                {
                    problems.Add(new("image", $"The gallery of {spec.Prior} has no image '{reference.Name}'."));
                    return zeros(1);
                }
                using (var decoded = ImageCodec.Decode(File.ReadAllBytes(file), (int)shape[2], (int)shape[0]))
                    return decoded.reshape([1, .. shape]).to(prior.Device);
            case ImageSource.Sample:
                if (prior is not GaussianMixturePrior mixture)
                {
                    problems.Add(new("image", $"{spec.Prior} cannot draw exact samples of itself; choose a gallery image."));
                    return zeros(1);
                }
                using (var g = new Generator(ulong.Parse(reference.Name)))
                    return mixture.Sample(1, g).Clamped(-1, 1);
            default:
                var uploaded = uploads?.Find(reference.Name);
                if (uploaded is null)
                {
                    problems.Add(new("image", "This uploaded image is not on this server (uploads do not travel with links). Upload it again or pick a gallery image."));
                    return zeros(1);
                }
                if (uploaded.Channels != shape[0] || uploaded.Height != shape[1] || uploaded.Width != shape[2])
                {
                    problems.Add(new("image", $"The uploaded image was prepared for another prior ({uploaded.Width}×{uploaded.Height}); upload it again."));
                    return zeros(1);
                }
                return uploaded.ToTensor(prior.Device);
        }
    }

    /// <summary>
    /// Runs the solver and reports every step. Stops between steps when <paramref name="cancellation"/>
    /// fires. The tensors in each <see cref="RunProgress"/> are copies the caller owns.
    /// </summary>
    /// <param name="scheduler">When given, the run's network calls are batched with other runs' on the same prior.</param>
    /// <param name="client">Who started the run, for the scheduler's per-client share.</param>
    public IEnumerable<RunProgress> Run(PreparedRun run, CancellationToken cancellation = default, RunScheduler? scheduler = null, string client = "")
    {
        var spec = run.Spec;
        var descriptor = SolverCatalog.Find(spec.Solver)!;
        var solver = descriptor.Create(spec.SolverParameters);
        using var solverStream = new Generator((ulong)spec.Seed * 2 + 2);
        using var batched = scheduler?.Join(run.Prior, client);
        var context = new SolverContext((IDenoiser?)batched ?? run.Prior, run.Measurement, run.Y, spec.NoiseModel, spec.Steps, 1, solverStream);
        var clock = Stopwatch.StartNew();
        foreach (var step in solver.Solve(context))
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var estimate = step.X0Hat.detach();
            var psnr = ImageMetrics.Psnr(estimate, run.GroundTruth)[0];
            var ssim = run.GroundTruth.dim() == 4 ? ImageMetrics.Ssim(estimate, run.GroundTruth)[0] : double.NaN;
            var xt = step.Xt.detach()[0].cpu().clone().MoveToOuterDisposeScope();
            var x0Hat = estimate[0].cpu().clone().MoveToOuterDisposeScope();
            yield return new RunProgress(step.Index, step.Total, step.Timestep, xt, x0Hat,
                step.Residual.Length > 0 ? step.Residual[0] : double.NaN, psnr, ssim, clock.Elapsed, step.IsFinal, step.NetworkEvaluations);
        }
    }
}

/// <summary>A run ready to solve: the spec (with defaults filled in), the prior, A, x0, y and y's back-projection.</summary>
public sealed class PreparedRun(ExperimentSpec spec, IDenoiser prior, IMeasurement measurement, Tensor groundTruth, Tensor y, Tensor backProjection) : IDisposable
{
    public ExperimentSpec Spec { get; } = spec;
    public IDenoiser Prior { get; } = prior;
    public IMeasurement Measurement { get; } = measurement;
    /// <summary>x0, [1, C, H, W].</summary>
    public Tensor GroundTruth { get; } = groundTruth;
    /// <summary>y, [1, ..OutputShape].</summary>
    public Tensor Y { get; } = y;
    /// <summary>y shown in image space, [1, C, H, W].</summary>
    public Tensor BackProjection { get; } = backProjection;

    public void Dispose()
    {
        GroundTruth.Dispose();
        Y.Dispose();
        BackProjection.Dispose();
        (Measurement as IDisposable)?.Dispose();
    }
}

/// <summary>One reported step. <see cref="Xt"/> and <see cref="X0Hat"/> are [C, H, W] CPU copies owned by the receiver.</summary>
public sealed record RunProgress(int Index, int Total, int Timestep, Tensor Xt, Tensor X0Hat,
    double Residual, double Psnr, double Ssim, TimeSpan Elapsed, bool IsFinal, int NetworkEvaluations = 0) : IDisposable
{
    public void Dispose()
    {
        Xt.Dispose();
        X0Hat.Dispose();
    }
}

/// <summary>Images uploaded to this server, by id (the web app keeps them; links cannot carry them).</summary>
public interface IUploadedImages
{
    PixelImage? Find(string id);
}

/// <summary>A spec that cannot run, with every problem in plain words.</summary>
public sealed class SpecException(IReadOnlyList<SpecProblem> problems)
    : Exception(string.Join(" ", problems.Select(p => p.Message)))
{
    public IReadOnlyList<SpecProblem> Problems { get; } = problems;
}
