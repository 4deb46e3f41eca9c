using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn.functional;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// A blur: every channel is correlated with one fixed kernel after reflect padding, so the
/// output has the input's size and the border is not darkened (DPS pads the same way).
/// </summary>
/// <remarks>
/// Reflect padding is written as a gather along rows and columns (an index list such as
/// 2 1 | 0 1 2 … H−1 | H−2 …). Its exact adjoint is the matching scatter-add, which folds the
/// padded border back onto the pixels it was copied from; the adjoint of the "valid"
/// correlation is a transposed convolution with the same kernel. Written this way the
/// adjoint is exact for any kernel size, even one larger than the image.
/// </remarks>
public abstract class ConvolutionBlur : MeasurementOperator
{
    readonly Tensor weight;       // [C, 1, kh, kw], one copy of the kernel per channel
    readonly Tensor rowSource;    // padded row r reads image row rowSource[r]
    readonly Tensor columnSource; // padded column c reads image column columnSource[c]
    readonly long channels, height, width;

    protected ConvolutionBlur(string id, long[] sampleShape, double[,] kernel) : base(id, sampleShape, sampleShape)
    {
        (channels, height, width) = RequireImageShape(sampleShape, id);
        int kh = kernel.GetLength(0), kw = kernel.GetLength(1);
        Kernel = kernel;
        using var flat = tensor(kernel.Cast<double>().ToArray(), [1, 1, kh, kw], float64);
        using var perChannel = flat.expand(channels, 1, kh, kw);
        weight = Keep(perChannel);
        rowSource = KeepIndex(ReflectedIndices(height, kh));
        columnSource = KeepIndex(ReflectedIndices(width, kw));
    }

    /// <summary>The kernel, rows × columns, summing to 1.</summary>
    public double[,] Kernel { get; }

    protected override Tensor ApplyForward(Tensor x)
    {
        using var rows = rowSource.to(x.device);
        using var columns = columnSource.to(x.device);
        var padded = x.index_select(2, rows).index_select(3, columns);
        return conv2d(padded, weight.to(x), groups: channels);
    }

    protected override Tensor ApplyAdjoint(Tensor y)
    {
        var spread = conv_transpose2d(y, weight.to(y), groups: channels); // [B, C, H+kh−1, W+kw−1]
        long batch = y.shape[0];
        using var one = 1.ToScalar();
        using var rows = rowSource.to(y.device);
        using var columns = columnSource.to(y.device);
        var foldedColumns = zeros([batch, channels, spread.shape[2], width], y.dtype, y.device).index_add(3, columns, spread, one);
        return zeros([batch, channels, height, width], y.dtype, y.device).index_add(2, rows, foldedColumns, one);
    }

    /// <summary>
    /// A blur's pseudo-inverse divides by the kernel's spectrum, which is nearly zero at high
    /// frequencies and would blow the noise up; the honest estimate without a prior is y itself.
    /// </summary>
    public override string NaiveEstimateName => "y itself (no deblurring)";

    /// <summary>The blurred image is itself the best picture of y.</summary>
    protected override Tensor ApplyBackProject(Tensor y) => y.clone();

    /// <summary>
    /// Source index of every padded position for reflect padding ("dcb|abcd|cba"), with
    /// (k−1)/2 positions before and k−1−(k−1)/2 after, reflecting again as often as needed.
    /// </summary>
    static long[] ReflectedIndices(long size, int kernelSize)
    {
        long before = (kernelSize - 1) / 2, after = kernelSize - 1 - before;
        var indices = new long[size + before + after];
        long period = 2 * (size - 1);
        for (long p = 0; p < indices.Length; p++)
        {
            if (size == 1) { indices[p] = 0; continue; }
            long m = ((p - before) % period + period) % period;
            indices[p] = m < size ? m : period - m;
        }
        return indices;
    }
}
