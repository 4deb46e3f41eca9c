using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// The run core: turns an <see cref="ExperimentSpec"/> into reported steps. It checks the spec
/// once (<see cref="Check"/>), loads the prior and the image and makes y (<see cref="Prepare(RunPlan)"/>),
/// and runs the solver on one sample (the lab, compare, the CLI) or many (a diversity batch)
/// through <see cref="SolverRun"/>, with the seeds of <see cref="RunSeeds"/>, measuring every step.
/// </summary>
/// <remarks>
/// Seeds: the operator and the measurement noise depend only on the spec's seed, never on the
/// solver, so every solver in a comparison sees the very same y. Each sample draws the solver's
/// noise from its own stream, seeded from its sample seed, so diversity sample k is exactly the
/// lab run with sample seed <see cref="ExperimentSpec.FirstSampleSeed"/> + k.
/// </remarks>
public sealed class Runner(PriorCatalog priors, IUploadedImages? uploads = null)
{
    public PriorCatalog Priors { get; } = priors;

    /// <summary>The spec with its defaults filled in and its corruption and solver looked up, or every problem that keeps it from running.</summary>
    public (RunPlan? Plan, IReadOnlyList<SpecProblem> Problems) Check(ExperimentSpec spec)
    {
        var corruption = OperatorCatalog.Find(spec.Corruption);
        var solver = SolverCatalog.Find(spec.Solver);
        var filled = spec.WithDefaults(corruption, solver, Priors.Find(spec.Prior)?.ImageSide ?? ParameterDefinition.ReferenceImageSide);
        var problems = filled.Validate(Priors.Ids);
        if (problems.Count > 0) return (null, problems);
        return (new RunPlan(filled, corruption!, solver!), []);
    }

    /// <summary>Checks the spec, loads what it names and makes y. Throws <see cref="SpecException"/> listing every problem.</summary>
    public PreparedRun Prepare(ExperimentSpec spec)
    {
        var (plan, problems) = Check(spec);
        return plan is null ? throw new SpecException(problems) : Prepare(plan);
    }

    /// <summary>Loads what a checked spec names and makes y. Throws <see cref="SpecException"/> when the image cannot be had.</summary>
    public PreparedRun Prepare(RunPlan plan)
    {
        var spec = plan.Spec;
        var prior = Priors.Load(spec.Prior);
        var problems = new List<SpecProblem>();
        using var scope = NewDisposeScope();
        var x0 = LoadImage(spec, prior, problems);
        if (problems.Count > 0) throw new SpecException(problems);

        var measurement = plan.Corruption.Create(spec.CorruptionParameters, prior.SampleShape, spec.Seed);
        using var noiseStream = new Generator(RunSeeds.Problem(spec.Seed));
        Tensor y;
        using (no_grad())
        {
            using var clean = measurement.Forward(x0);
            y = spec.NoiseModel.Apply(clean, noiseStream);
        }
        Tensor back, picture;
        Tensor? naive;
        using (no_grad())
        {
            back = measurement.BackProject(y);
            picture = measurement.Picture(y).Clamped(-1, 1);
            naive = measurement.NaiveEstimate(y)?.Clamped(-1, 1);
        }
        var yardstick = naive is null ? null
            : new NaiveYardstick(measurement.NaiveEstimateName, naive.MoveToOuterDisposeScope(), ImageMetrics.Psnr(naive, x0)[0], ImageMetrics.Ssim(naive, x0)[0]);
        return new PreparedRun(plan, prior, measurement,
            x0.MoveToOuterDisposeScope(), y.MoveToOuterDisposeScope(), back.MoveToOuterDisposeScope(), picture.MoveToOuterDisposeScope(), yardstick);
    }

    /// <summary>
    /// Runs the solver on one sample, the spec's sample seed, and reports every step. Stops between
    /// steps when <paramref name="cancellation"/> fires.
    /// </summary>
    /// <param name="scheduler">When given, the run's network calls are batched with other runs' on the same prior.</param>
    /// <param name="client">Who started the run, for the scheduler's per-client share.</param>
    public IEnumerable<StepRecord> Run(PreparedRun run, CancellationToken cancellation = default, RunScheduler? scheduler = null, string client = "") =>
        Solve(run, 1, summarize: false, cancellation, scheduler, client).Select(step => step.First);

    /// <summary>
    /// Runs the solver on <paramref name="count"/> samples of the same y as one batch (sample k with
    /// sample seed first + k) and reports every step of every sample; the final step carries the
    /// batch's mean, standard deviation and the metrics of the mean.
    /// </summary>
    public IEnumerable<SamplesStep> RunSamples(PreparedRun run, int count, CancellationToken cancellation = default,
        RunScheduler? scheduler = null, string client = "")
    {
        if (count < 1 || count > PosteriorSamples.MaxSamples) throw new SolverException($"Choose between 1 and {PosteriorSamples.MaxSamples} samples.");
        return Solve(run, count, summarize: true, cancellation, scheduler, client);
    }

    IEnumerable<SamplesStep> Solve(PreparedRun run, int count, bool summarize, CancellationToken cancellation, RunScheduler? scheduler, string client)
    {
        var spec = run.Spec;
        var solver = run.Plan.Solver.Create(spec.SolverParameters);
        var recorder = new StepRecorder(run);
        var noise = RunSeeds.ForSamples(spec.FirstSampleSeed, count);
        foreach (var step in SolverRun.Steps(solver, run.Problem, spec.Steps, count, noise, cancellation, scheduler, client))
        {
            var records = recorder.Record(step);
            var summary = summarize && step.IsFinal ? PosteriorSamples.Summarize(run, step.X0Hat) : null;
            yield return new SamplesStep(records, summary);
        }
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
}

/// <summary>A spec that passed its checks: its defaults filled in, and the corruption and solver it names looked up once.</summary>
public sealed record RunPlan(ExperimentSpec Spec, OperatorDescriptor Corruption, SolverDescriptor Solver);

/// <summary>
/// What a solver has to beat: the estimate from y alone (<see cref="IMeasurement.NaiveEstimate"/>),
/// [1, C, H, W] clamped to the image range, and its PSNR and SSIM against x0.
/// </summary>
public sealed record NaiveYardstick(string Name, Tensor Estimate, double Psnr, double Ssim);

/// <summary>A run ready to solve: the plan, the prior, A, x0, y, y's back-projection, y's picture and the naive estimate.</summary>
public sealed class PreparedRun(RunPlan plan, IDenoiser prior, IMeasurement measurement, Tensor groundTruth, Tensor y, Tensor backProjection,
    Tensor measurementPicture, NaiveYardstick? naive) : IDisposable
{
    public RunPlan Plan { get; } = plan;
    /// <summary>The spec with its defaults filled in.</summary>
    public ExperimentSpec Spec => Plan.Spec;
    public IDenoiser Prior { get; } = prior;
    public IMeasurement Measurement { get; } = measurement;
    /// <summary>x0, [1, C, H, W].</summary>
    public Tensor GroundTruth { get; } = groundTruth;
    /// <summary>y, [1, ..OutputShape].</summary>
    public Tensor Y { get; } = y;
    /// <summary>y shown in image space, [1, C, H, W].</summary>
    public Tensor BackProjection { get; } = backProjection;
    /// <summary>y drawn for the panels, [1, C, H', W'] in [-1, 1]: the back-projection, or a log-magnitude spectrum where y is one.</summary>
    public Tensor MeasurementPicture { get; } = measurementPicture;
    /// <summary>The estimate from y alone and its metrics; null where the operator has none (phase retrieval).</summary>
    public NaiveYardstick? Naive { get; } = naive;

    /// <summary>What the solver is asked to solve.</summary>
    public RunProblem Problem => new(Prior, Measurement, Y, Spec.NoiseModel);

    public void Dispose()
    {
        GroundTruth.Dispose();
        Y.Dispose();
        BackProjection.Dispose();
        MeasurementPicture.Dispose();
        Naive?.Estimate.Dispose();
        (Measurement as IDisposable)?.Dispose();
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
