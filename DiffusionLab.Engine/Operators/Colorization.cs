using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Colorization: y is the grey image, the plain mean of the colour channels (one channel).
/// Aᵀ spreads a grey value equally over the channels, 1/C each; the back-projection shows
/// the grey image in every channel. Its SVD works pixel by pixel over the channels: V is the
/// Helmert basis of the C channel values (the first coordinate, their sum over √C, has singular
/// value 1/√C; the C − 1 colour differences have 0), laid out in the channel axis.
/// </summary>
public sealed class Colorization : MeasurementOperator, ISvdMeasurement
{
    public const string CatalogId = "colorization";
    readonly long channels;
    readonly Tensor channelBasis;   // [C, C], Helmert
    readonly Tensor singularValues; // [C, H, W]

    public Colorization(long[] sampleShape) : base(CatalogId, sampleShape, GreyShape(sampleShape))
    {
        channels = sampleShape[0];
        using var scope = NewDisposeScope();
        channelBasis = Keep(HelmertBasis.Matrix((int)channels));
        var perChannel = zeros(sampleShape, float64);
        perChannel[0] = ScalarArithmetic.Full([sampleShape[1], sampleShape[2]], 1 / Math.Sqrt(channels), float64);
        singularValues = Keep(perChannel);
    }

    static long[] GreyShape(long[] sampleShape)
    {
        var (_, height, width) = RequireImageShape(sampleShape, CatalogId);
        return [1, height, width];
    }

    protected override Tensor ApplyForward(Tensor x) => x.mean([1], keepdim: true);
    protected override Tensor ApplyAdjoint(Tensor y) => y.repeat(1, channels, 1, 1).DividedBy(channels);
    protected override Tensor ApplyBackProject(Tensor y) => y.repeat(1, channels, 1, 1);

    /// <summary>A Aᵀ = I/C, so A⁺ = C·Aᵀ: the grey image in every channel, which is the back-projection.</summary>
    public override string NaiveEstimateName => "A⁺y: the grey image in every channel";
    public long[] SpectralShape => InputShape;
    public Tensor SingularValues => singularValues;

    public Tensor ToSpectral(Tensor x) => Scoped(() => x.permute(0, 2, 3, 1).matmul(channelBasis.to(x).t()).permute(0, 3, 1, 2).contiguous());

    public Tensor FromSpectral(Tensor spectral) => Scoped(() => spectral.permute(0, 2, 3, 1).matmul(channelBasis.to(spectral)).permute(0, 3, 1, 2).contiguous());

    public Tensor MeasurementToSpectral(Tensor y) => Scoped(() =>
        cat([y, zeros([y.shape[0], channels - 1, y.shape[2], y.shape[3]], y.dtype, y.device)], 1));

    public Tensor SpectralToMeasurement(Tensor spectral) => Scoped(() => spectral.narrow(1, 0, 1).contiguous());
}
