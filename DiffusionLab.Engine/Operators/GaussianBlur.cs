namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Gaussian blur: an out-of-focus camera. Each channel is correlated with a normalised
/// kernelSize × kernelSize Gaussian of width <c>sigma</c> pixels, reflect-padded at the border.
/// </summary>
public sealed class GaussianBlur : ConvolutionBlur
{
    public const string CatalogId = "gaussian-blur";

    public GaussianBlur(long[] sampleShape, int kernelSize, double sigma)
        : base(CatalogId, sampleShape, GaussianKernel(kernelSize, sigma))
    {
        KernelSize = kernelSize;
        Sigma = sigma;
    }

    public int KernelSize { get; }
    public double Sigma { get; }

    /// <summary>The separable Gaussian exp(−(i² + j²) / 2σ²) centred on the kernel, summing to 1.</summary>
    public static double[,] GaussianKernel(int kernelSize, double sigma)
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
