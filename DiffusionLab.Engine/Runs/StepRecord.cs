using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Solvers;
using System.Diagnostics;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// One reported step of one sample, the single type a step travels as: from the run core
/// (<see cref="Runner"/>) through the live run, the run store and the replay, until the web maps it,
/// in one place, to the frame the browser receives. Its names are the browser's names. The images
/// are managed copies (<see cref="StepImage"/>); a step kept only for the charts has none.
/// </summary>
/// <remarks>
/// The solver's own <see cref="SolverStep"/> stays a separate, earlier form: it holds the batch's
/// live tensors, valid only until the solver moves on, and a run must copy what it keeps out of
/// libtorch before the next step frees them. A StepRecord is that copy, one per sample, with the
/// metrics the run adds (PSNR, SSIM against the ground truth, the time so far).
/// </remarks>
public sealed record StepRecord
{
    /// <summary>0-based step index.</summary>
    public int Step { get; init; }

    /// <summary>Steps this run takes.</summary>
    public int Total { get; init; }

    /// <summary>The diffusion timestep index this step reached (0 at the end of sampling), −1 for classical solvers.</summary>
    public int Timestep { get; init; }

    /// <summary>
    /// The diffusion time t ∈ [0, 1] this step reached: the timestep over the prior schedule's training
    /// steps (0 at the end of sampling). NaN for classical solvers, which have no diffusion time.
    /// </summary>
    public double T { get; init; } = double.NaN;

    /// <summary>‖y − A(x̂0)‖ in the noise model's norm (NaN without a measurement).</summary>
    public double Residual { get; init; } = double.NaN;

    /// <summary>PSNR of x̂0 against the ground truth, in dB.</summary>
    public double Psnr { get; init; } = double.NaN;

    /// <summary>SSIM of x̂0 against the ground truth (NaN when the samples are not images).</summary>
    public double Ssim { get; init; } = double.NaN;

    /// <summary>Time from the start of the solver to this step.</summary>
    public double ElapsedMs { get; init; }

    /// <summary>Network evaluations so far (a backward pass counts as one more).</summary>
    public int NetworkEvaluations { get; init; }

    /// <summary>The effective sample size of the weighted particles behind this sample (sequential Monte Carlo solvers; NaN for the others).</summary>
    public double Ess { get; init; } = double.NaN;

    public bool IsFinal { get; init; }

    /// <summary>The iterate x_t.</summary>
    public StepImage? Xt { get; init; }

    /// <summary>The estimate of the clean image x̂0.</summary>
    public StepImage? X0Hat { get; init; }

    /// <summary>The step's numbers alone: what the metric series keeps of every step.</summary>
    public StepRecord WithoutImages() => this with { Xt = null, X0Hat = null };

    /// <summary>The step with its images as PNG only (encoding them now if needed): what a kept keyframe holds.</summary>
    public StepRecord Encoded() => this with { Xt = Xt?.Encoded(), X0Hat = X0Hat?.Encoded() };
}

/// <summary>
/// Turns a run's raw solver steps into <see cref="StepRecord"/>s, one per sample: copies x_t and x̂0
/// out of libtorch (one read per tensor for the whole batch) and measures x̂0 against the ground truth.
/// </summary>
sealed class StepRecorder(PreparedRun run)
{
    readonly Stopwatch clock = Stopwatch.StartNew();

    public StepRecord[] Record(SolverStep step)
    {
        using var scope = NewDisposeScope();
        var elapsed = clock.Elapsed.TotalMilliseconds;
        var estimate = step.X0Hat.detach();
        var truth = run.GroundTruth.expand(estimate.shape);
        var psnr = ImageMetrics.Psnr(estimate, truth);
        var ssim = truth.dim() == 4 ? ImageMetrics.Ssim(estimate, truth) : null;
        var xt = CopyOut(step.Xt);
        var x0Hat = CopyOut(estimate);
        var records = new StepRecord[x0Hat.Length];
        for (int i = 0; i < records.Length; i++)
            records[i] = new StepRecord
            {
                Step = step.Index,
                Total = step.Total,
                Timestep = step.Timestep,
                T = step.Timestep < 0 ? double.NaN : (double)step.Timestep / run.Prior.Schedule.TrainingSteps,
                Residual = i < step.Residual.Length ? step.Residual[i] : double.NaN,
                Psnr = psnr[i],
                Ssim = ssim?[i] ?? double.NaN,
                ElapsedMs = elapsed,
                NetworkEvaluations = step.NetworkEvaluations,
                Ess = step.Particles?.EffectiveSampleSize[i] ?? double.NaN,
                IsFinal = step.IsFinal,
                Xt = StepImage.Of(xt[i]),
                X0Hat = StepImage.Of(x0Hat[i]),
            };
        return records;
    }

    /// <summary>A batch [B, ..SampleShape] as B managed images, with a single read of its data out of libtorch.</summary>
    static PixelImage[] CopyOut(Tensor batch)
    {
        using var scope = NewDisposeScope();
        var (channels, height, width) = ImageShape(batch.shape[1..]);
        var values = batch.detach().to(float32).cpu().contiguous().data<float>().ToArray();
        int count = (int)batch.shape[0], plane = channels * height * width;
        if (count == 1) return [new PixelImage(channels, height, width, values)];
        return Enumerable.Range(0, count).Select(i => new PixelImage(channels, height, width, values.AsSpan(i * plane, plane).ToArray())).ToArray();
    }

    /// <summary>[C, H, W] as it is; any other sample shape as one grey row.</summary>
    static (int, int, int) ImageShape(long[] sample) =>
        sample.Length == 3 ? ((int)sample[0], (int)sample[1], (int)sample[2]) : (1, 1, (int)sample.Aggregate(1L, (a, b) => a * b));
}
