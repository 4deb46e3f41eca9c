using System.Diagnostics;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// Posterior diversity: one measurement y, one solver, N samples solved together as one batch
/// (each sample draws its own noise from the run's stream, so y is the same for all and only the
/// solver's randomness differs). The per-pixel mean and standard deviation show where the prior is
/// unsure; a classical solver gives N identical answers and a zero standard deviation.
/// </summary>
public static class PosteriorSamples
{
    public const int MaxSamples = 16;

    /// <summary>
    /// Steps of the batch: every sample's x̂0 [N, C, H, W] on the CPU, and at the end the mean, the
    /// standard deviation and the metrics of the mean. The tensors in each report are the caller's.
    /// </summary>
    public static IEnumerable<SamplesProgress> Run(PreparedRun run, int count, CancellationToken cancellation = default,
        RunScheduler? scheduler = null, string client = "")
    {
        if (count < 1 || count > MaxSamples) throw new SolverException($"Choose between 1 and {MaxSamples} samples.");
        var spec = run.Spec;
        var solver = SolverCatalog.Find(spec.Solver)!.Create(spec.SolverParameters);
        using var solverStream = new Generator((ulong)spec.Seed * 2 + 2);
        using var batched = scheduler?.Join(run.Prior, client);
        using var y = run.Y.expand([count, .. run.Y.shape[1..]]).contiguous();
        var context = new SolverContext((IDenoiser?)batched ?? run.Prior, run.Measurement, y, spec.NoiseModel, spec.Steps, count, solverStream);
        var clock = Stopwatch.StartNew();
        foreach (var step in solver.Solve(context))
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var samples = step.X0Hat.detach().Clamped(-1, 1);
            var samplesOut = samples.cpu().clone().MoveToOuterDisposeScope();
            Tensor? mean = null, std = null;
            double psnr = double.NaN, ssim = double.NaN, residual = double.NaN;
            if (step.IsFinal)
            {
                var m = samples.mean([0], keepdim: true);
                // Population standard deviation (divide by N): 0 for one sample, and for N equal answers.
                var s = samples.std([0], unbiased: false, keepdim: true);
                psnr = ImageMetrics.Psnr(m, run.GroundTruth)[0];
                ssim = run.GroundTruth.dim() == 4 ? ImageMetrics.Ssim(m, run.GroundTruth)[0] : double.NaN;
                using (no_grad()) residual = spec.NoiseModel.ResidualNorm(run.Y, run.Measurement.Forward(m)).to(float64).item<double>();
                mean = m[0].cpu().clone().MoveToOuterDisposeScope();
                std = s[0].cpu().clone().MoveToOuterDisposeScope();
            }
            yield return new SamplesProgress(step.Index, step.Total, samplesOut, mean, std, psnr, ssim, residual, clock.Elapsed, step.IsFinal);
        }
    }
}

/// <summary>One step of a diversity batch. <see cref="Mean"/> and <see cref="Std"/> ([C, H, W]) come with the final step only.</summary>
public sealed record SamplesProgress(int Index, int Total, Tensor Samples, Tensor? Mean, Tensor? Std,
    double MeanPsnr, double MeanSsim, double MeanResidual, TimeSpan Elapsed, bool IsFinal) : IDisposable
{
    public void Dispose()
    {
        Samples.Dispose();
        Mean?.Dispose();
        Std?.Dispose();
    }
}
