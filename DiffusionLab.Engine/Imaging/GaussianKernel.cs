namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// The normalised square Gaussian kernel shared by the Gaussian-blur corruption and SSIM's window.
/// </summary>
public static class GaussianKernel
{
    /// <summary>The separable Gaussian exp(−(i² + j²) / 2σ²) centred on the kernel, summing to 1.</summary>
    public static double[,] Weights(int kernelSize, double sigma)
    {
        if (kernelSize < 1) throw new ArgumentOutOfRangeException(nameof(kernelSize), "The blur kernel needs at least one pixel.");
        if (!(sigma > 0)) throw new ArgumentOutOfRangeException(nameof(sigma), "The blur width σ must be positive.");
        double centre = (kernelSize - 1) / 2.0;
        var profile = new double[kernelSize];
        for (int i = 0; i < kernelSize; i++) profile[i] = Math.Exp(-(i - centre) * (i - centre) / (2 * sigma * sigma));
        double total = profile.Sum();
        var kernel = new double[kernelSize, kernelSize];
        for (int i = 0; i < kernelSize; i++)
            for (int j = 0; j < kernelSize; j++)
                kernel[i, j] = profile[i] * profile[j] / (total * total);
        return kernel;
    }
}
