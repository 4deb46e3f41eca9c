using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// How close a reconstruction is to the truth and to its measurement, one number per sample
/// of a batch (docs/maths.md §8). Images are in [-1, 1]; PSNR and SSIM first clip them to [-1, 1]
/// (as saving them as a picture would) and map them to [0, 1], so their data range is 1.
/// </summary>
public static class ImageMetrics
{
    /// <summary>SSIM constants of Wang et al. (2004): a Gaussian window of σ = 1.5 over 11×11 pixels, K1 = 0.01, K2 = 0.03.</summary>
    public const int SsimWindowSize = 11;
    public const double SsimWindowSigma = 1.5, SsimK1 = 0.01, SsimK2 = 0.03;

    /// <summary>Peak signal-to-noise ratio in dB, 10 log10(1 / MSE) on [0, 1] images; +∞ for identical images. Any shape [B, ...].</summary>
    public static double[] Psnr(Tensor estimate, Tensor reference)
    {
        RequireSameShape(estimate, reference);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var difference = ToUnitRange(estimate) - ToUnitRange(reference);
        var meanSquaredError = difference.Squared().flatten(1).mean([1]);
        return meanSquaredError.data<double>().Select(mse => 10 * Math.Log10(1 / mse)).ToArray();
    }

    /// <summary>
    /// Structural similarity (Wang et al. 2004) of [B, C, H, W] images: the local-statistics
    /// map over every full window position (no padding), averaged over positions and channels.
    /// Images smaller than 11 pixels use a window as large as the image, with the same σ.
    /// </summary>
    public static double[] Ssim(Tensor estimate, Tensor reference)
    {
        RequireSameShape(estimate, reference);
        if (estimate.dim() != 4) throw new ArgumentException($"SSIM needs image batches shaped [B, C, H, W], got [{string.Join(", ", estimate.shape)}].");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        long channels = estimate.shape[1];
        int windowSize = (int)Math.Min(SsimWindowSize, Math.Min(estimate.shape[2], estimate.shape[3]));
        var window = GaussianWindow(windowSize).expand(channels, 1, windowSize, windowSize);
        Tensor LocalMean(Tensor t) => conv2d(t, window, groups: channels);

        var x = ToUnitRange(estimate);
        var y = ToUnitRange(reference);
        var meanX = LocalMean(x);
        var meanY = LocalMean(y);
        var varianceX = LocalMean(x * x) - meanX * meanX;
        var varianceY = LocalMean(y * y) - meanY * meanY;
        var covariance = LocalMean(x * y) - meanX * meanY;
        const double c1 = SsimK1 * SsimK1, c2 = SsimK2 * SsimK2; // data range 1
        var map = (meanX.Times(2) * meanY).Plus(c1) * covariance.Times(2).Plus(c2)
                  / ((meanX * meanX).Plus(meanY * meanY).Plus(c1) * varianceX.Plus(varianceY).Plus(c2));
        return map.flatten(1).mean([1]).data<double>().ToArray();
    }

    /// <summary>
    /// Relative data misfit ‖y − A(x̂)‖ / ‖y‖ per sample, given y and the prediction A(x̂): how well a reconstruction explains its
    /// measurement (near sigmaY·√m/‖y‖ for a perfect one). 0 when both are zero, +∞ when only y is.
    /// </summary>
    public static double[] DataConsistency(Tensor y, Tensor predicted)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var prediction = predicted.to(float64);
        var measured = y.to(float64);
        RequireSameShape(prediction, measured);
        var residualNorms = (measured - prediction).flatten(1).Squared().sum(1).sqrt().data<double>().ToArray();
        var measurementNorms = measured.flatten(1).Squared().sum(1).sqrt().data<double>().ToArray();
        return residualNorms.Zip(measurementNorms, (r, m) => m > 0 ? r / m : r == 0 ? 0 : double.PositiveInfinity).ToArray();
    }

    static Tensor ToUnitRange(Tensor image) => image.to(float64).Clamped(-1, 1).Plus(1).DividedBy(2);

    /// <summary>The SSIM window is the Gaussian-blur kernel with SSIM's σ.</summary>
    static Tensor GaussianWindow(int size) =>
        tensor(GaussianKernel.Weights(size, SsimWindowSigma).Cast<double>().ToArray(), [1, 1, size, size], float64);

    static void RequireSameShape(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape))
            throw new ArgumentException($"The two batches differ in shape: [{string.Join(", ", a.shape)}] and [{string.Join(", ", b.shape)}].");
    }
}
