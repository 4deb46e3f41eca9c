using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Compressed sensing with a generative model (Bora et al. 2017): the answer is G(z) for the code z
/// that minimises f(z) = ‖y − A(G(z))‖² / σ_y² + λ ‖z‖² — the data misfit under Gaussian noise (for
/// Poisson noise, the misfit weighted by each count's variance) plus the Gaussian prior on z — found
/// by Adam from several random starts (restarts), keeping the one with the lowest f. Only G's
/// autograd is used, so A may be nonlinear. Each iteration is one Adam step on every start at once;
/// the step reports x = G(z) of the best start so far as both x_t and x̂0. The generator is a trained
/// VAE decoder or GAN generator, not the run's diffusion prior: the answer can only be an image that
/// generator can make, which is both CSGM's strength (few measurements suffice) and its limit.
/// Each sample of a batch draws its own starts from its own noise stream, so samples differ only in
/// where their starts fell, and a batch's sample k is the single run with sample k's seed.
/// </summary>
public sealed class Csgm : ISolver
{
    /// <summary>Adam's moment decay rates and its guard against division by zero (Kingma &amp; Ba's defaults).</summary>
    const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;

    readonly Func<IImageGenerator> loadGenerator;

    /// <param name="id">Catalog id ("csgm-vae", "csgm-gan").</param>
    /// <param name="displayName">The name messages use.</param>
    /// <param name="loadGenerator">Gives the generator; a <see cref="CheckpointException"/> from it becomes a message for the student.</param>
    /// <param name="restarts">Random starts per sample.</param>
    /// <param name="learningRate">Adam's step size in z.</param>
    /// <param name="latentWeight">λ, the weight of ‖z‖² (1: the issue's and the paper's MAP objective up to scale).</param>
    public Csgm(string id, string displayName, Func<IImageGenerator> loadGenerator, int restarts, double learningRate, double latentWeight)
    {
        if (restarts < 1) throw new ArgumentOutOfRangeException(nameof(restarts), "at least one start");
        if (!(learningRate > 0) || double.IsInfinity(learningRate)) throw new ArgumentOutOfRangeException(nameof(learningRate), "the step size must be positive");
        if (!(latentWeight >= 0) || double.IsInfinity(latentWeight)) throw new ArgumentOutOfRangeException(nameof(latentWeight), "λ must be a number of at least 0");
        Id = id;
        DisplayName = displayName;
        this.loadGenerator = loadGenerator;
        Restarts = restarts;
        LearningRate = learningRate;
        LatentWeight = latentWeight;
    }

    public string Id { get; }
    public string DisplayName { get; }
    public int Restarts { get; }
    public double LearningRate { get; }
    public double LatentWeight { get; }

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        var measurement = context.RequireMeasurement(DisplayName);
        var y = context.Y ?? throw new SolverException($"{DisplayName} needs a measurement y.");
        if (context.Steps < 1) throw new SolverException($"{DisplayName} needs at least one iteration.");
        IImageGenerator generator;
        try { generator = loadGenerator(); }
        catch (CheckpointException e) { throw new SolverException($"{DisplayName} cannot load its generator: {e.Message}"); }
        if (!generator.Config.SampleShape.SequenceEqual(context.Prior.SampleShape))
            throw new SolverException($"{DisplayName}'s generator makes {Describe(generator.Config.SampleShape)} images, but this run's images are {Describe(context.Prior.SampleShape)}.");

        long batch = context.BatchSize, starts = batch * Restarts;
        Tensor z, firstMoment, secondMoment, yPerStart;
        using (var scope = NewDisposeScope())
        {
            // Sample b's starts come from sample b's own stream (rows b·R … b·R + R − 1 after the
            // reshape), so a sample of a batch finds what the single run with its seed finds.
            z = context.Random.Normal([batch, Restarts, generator.Config.LatentDimension], CPU)
                .reshape(starts, generator.Config.LatentDimension).DetachFromDisposeScope();
            firstMoment = zeros_like(z).DetachFromDisposeScope();
            secondMoment = zeros_like(z).DetachFromDisposeScope();
            yPerStart = y.repeat_interleave(Restarts, dim: 0).DetachFromDisposeScope();
        }
        Tensor? shown = null;
        try
        {
            for (int i = 0; i < context.Steps; i++)
            {
                double[] residual, objective;
                using (var scope = NewDisposeScope())
                {
                    var (image, gradient, norms, values) = Evaluate(generator, measurement, context.Noise, yPerStart, z);
                    if (!gradient.isfinite().all().item<bool>())
                        throw new SolverException($"{DisplayName}'s gradient became infinite or NaN at iteration {i + 1}. Try a smaller step size (now {LearningRate}).");
                    // Each sample shows its start with the lowest objective at this iterate.
                    var best = values.view(batch, Restarts).argmin(1).data<long>().ToArray();
                    using var rows = tensor(best.Select((r, b) => b * Restarts + r).ToArray());
                    shown?.Dispose();
                    shown = image.index_select(0, rows).DetachFromDisposeScope();
                    residual = norms.index_select(0, rows).to(float64).data<double>().ToArray();
                    objective = values.index_select(0, rows).to(float64).data<double>().ToArray();
                    AdamStep(z, firstMoment, secondMoment, gradient, i + 1);
                }
                // One generator call forward and one backward per iteration, for all starts together.
                yield return new SolverStep(i, context.Steps, -1, shown, shown, residual, 2 * (i + 1), objective);
            }
        }
        finally
        {
            shown?.Dispose();
            z.Dispose();
            firstMoment.Dispose();
            secondMoment.Dispose();
            yPerStart.Dispose();
        }
    }

    /// <summary>G(z), ∇f(z), each start's residual norm and f(z), for every start at once.</summary>
    (Tensor Image, Tensor Gradient, Tensor ResidualNorms, Tensor Objective) Evaluate(IImageGenerator generator, IMeasurement measurement, NoiseModel noise, Tensor y, Tensor z)
    {
        using var withGradients = enable_grad();
        var code = z.detach().requires_grad_(true);
        var image = generator.Generate(code);
        var norms = noise.ResidualNorm(y, measurement.Forward(image));
        // The Poisson norm is already weighted by each count's inverse variance; the Gaussian one is divided by σ_y² here.
        var misfit = noise.Kind == NoiseKind.Gaussian ? norms.Squared().DividedBy(noise.SigmaY * noise.SigmaY) : norms.Squared();
        var objective = misfit.Plus(code.Squared().sum(1).Times(LatentWeight));
        var gradient = autograd.grad([objective.sum()], [code])[0];
        return (image.detach(), gradient, norms.detach(), objective.detach());
    }

    /// <summary>One Adam step (Kingma &amp; Ba 2015) in place; each start's update depends only on its own gradient.</summary>
    void AdamStep(Tensor z, Tensor firstMoment, Tensor secondMoment, Tensor gradient, int step)
    {
        using var _ = no_grad();
        firstMoment.TimesInPlace(Beta1).PlusScaledInPlace(gradient, 1 - Beta1);
        secondMoment.TimesInPlace(Beta2).PlusScaledInPlace(gradient.Squared(), 1 - Beta2);
        var corrected = firstMoment.DividedBy(1 - Math.Pow(Beta1, step));
        var scale = secondMoment.DividedBy(1 - Math.Pow(Beta2, step)).sqrt().Plus(Epsilon);
        z.PlusScaledInPlace(corrected / scale, -LearningRate);
    }

    static string Describe(long[] shape) => shape.Length == 3 ? $"{shape[1]}×{shape[2]} (channels {shape[0]})" : $"[{string.Join(", ", shape)}]";
}
