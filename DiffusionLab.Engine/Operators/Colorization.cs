using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Colorization: y is the grey image, the plain mean of the colour channels (one channel).
/// Aᵀ spreads a grey value equally over the channels, 1/C each; the back-projection shows
/// the grey image in every channel.
/// </summary>
public sealed class Colorization : MeasurementOperator
{
    public const string CatalogId = "colorization";
    readonly long channels;

    public Colorization(long[] sampleShape) : base(CatalogId, sampleShape, GreyShape(sampleShape))
    {
        channels = sampleShape[0];
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
}
