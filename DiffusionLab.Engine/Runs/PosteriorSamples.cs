using DiffusionLab.Engine.Imaging;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// Posterior diversity: one measurement y, one solver, N samples that differ only in the solver's
/// noise (sample k draws from sample seed first + k, so it is exactly the lab run with that sample
/// seed). Their per-pixel mean and standard deviation show where the prior is unsure; a classical
/// solver gives N identical answers and a zero standard deviation.
/// </summary>
public static class PosteriorSamples
{
    public const int MaxSamples = 16;

    /// <summary>
    /// The mean, the standard deviation and the metrics of the mean of a batch's final x̂0 [N, C, H, W],
    /// each sample clipped to [-1, 1] first (as its picture shows it).
    /// </summary>
    internal static PosteriorSummary Summarize(PreparedRun run, Tensor finalX0Hat)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var samples = finalX0Hat.detach().Clamped(-1, 1);
        var mean = samples.mean([0], keepdim: true);
        // Population standard deviation (divide by N): 0 for one sample, and for N equal answers.
        var std = samples.std([0], unbiased: false, keepdim: true);
        var psnr = ImageMetrics.Psnr(mean, run.GroundTruth)[0];
        var ssim = run.GroundTruth.dim() == 4 ? ImageMetrics.Ssim(mean, run.GroundTruth)[0] : double.NaN;
        var residual = run.Measurement is null ? double.NaN
            : run.Spec.NoiseModel.ResidualNorm(run.Y, run.Measurement.Forward(mean)).to(float64).item<double>();
        return new PosteriorSummary(PixelImage.FromTensor(mean), PixelImage.FromTensor(std), StdPicture(std[0]), std.max().item<float>(), psnr, ssim, residual);
    }

    /// <summary>The per-pixel standard deviation [C, H, W], averaged over colour, as a grey picture in [-1, 1]: white at its largest value, black where every sample agrees.</summary>
    static PixelImage StdPicture(Tensor std)
    {
        using var scope = NewDisposeScope();
        var grey = std.mean([0], keepdim: true);
        var max = grey.max().item<float>();
        var scaled = max > 0 ? grey.DividedBy(max) : grey;
        return PixelImage.FromTensor(scaled.Times(2).Minus(1).expand(3, -1, -1));
    }
}

/// <summary>What a finished diversity batch shows beside its samples.</summary>
/// <param name="Mean">The per-pixel mean of the (clipped) samples, [C, H, W].</param>
/// <param name="Std">The per-pixel population standard deviation, [C, H, W].</param>
/// <param name="StdPicture">The standard deviation averaged over colour as a grey picture, white at its largest.</param>
/// <param name="StdMax">The largest per-pixel standard deviation (on the [-1, 1] scale); 0 when every sample agrees.</param>
/// <param name="MeanPsnr">PSNR of the mean against the ground truth.</param>
/// <param name="MeanSsim">SSIM of the mean against the ground truth.</param>
/// <param name="MeanResidual">The noise model's ‖y − A(mean)‖.</param>
public sealed record PosteriorSummary(PixelImage Mean, PixelImage Std, PixelImage StdPicture, double StdMax,
    double MeanPsnr, double MeanSsim, double MeanResidual);

/// <summary>One step of a diversity batch: every sample's record, and with the final step the batch's summary.</summary>
public sealed record SamplesStep(IReadOnlyList<StepRecord> Samples, PosteriorSummary? Summary)
{
    public StepRecord First => Samples[0];
}
