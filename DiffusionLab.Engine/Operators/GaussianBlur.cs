using DiffusionLab.Engine.Imaging;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Gaussian blur: an out-of-focus camera. Each channel is correlated with a normalised
/// kernelSize × kernelSize Gaussian of width <c>sigma</c> pixels, reflect-padded at the border.
/// </summary>
public sealed class GaussianBlur : ConvolutionBlur
{
    public const string CatalogId = "gaussian-blur";

    public GaussianBlur(long[] sampleShape, int kernelSize, double sigma)
        : base(CatalogId, sampleShape, GaussianKernel.Weights(kernelSize, sigma))
    {
        KernelSize = kernelSize;
        Sigma = sigma;
    }

    public int KernelSize { get; }
    public double Sigma { get; }
}
