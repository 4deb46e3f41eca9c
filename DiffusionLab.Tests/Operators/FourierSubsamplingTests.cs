using DiffusionLab.Engine.Operators;
using System.Numerics;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

public class FourierSubsamplingTests
{
    static long SignedFrequency(long row, long height) => row <= height / 2 ? row : row - height;

    [Fact]
    public void Forward_is_the_orthonormal_dft_on_the_kept_rows_and_zero_elsewhere()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(40);
        const int H = 6, W = 5;
        using var scan = new FourierSubsampling([1, H, W], 2, LinePattern.Random, seed: 3);
        var x = RandomBatch(1, [1, H, W], generator);
        var pixels = x.data<double>().ToArray();
        var y = scan.Forward(x);
        Assert.Equal([1L, 1, H, W, 2], y.shape);
        var measured = y.data<double>().ToArray();
        for (int k = 0; k < H; k++)
            for (int l = 0; l < W; l++)
            {
                Complex sum = 0;
                for (int m = 0; m < H; m++)
                    for (int n = 0; n < W; n++)
                        sum += pixels[m * W + n] * Complex.Exp(-2 * Math.PI * Complex.ImaginaryOne * ((double)k * m / H + (double)l * n / W));
                var expected = scan.KeptRows.Contains(k) ? sum / Math.Sqrt(H * W) : Complex.Zero;
                Assert.Equal(expected.Real, measured[(k * W + l) * 2], 12);
                Assert.Equal(expected.Imaginary, measured[(k * W + l) * 2 + 1], 12);
            }
    }

    [Fact]
    public void Without_acceleration_the_scan_is_orthonormal_and_back_projection_inverts_it()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(41);
        using var scan = new FourierSubsampling([3, 8, 6], 1, LinePattern.Random, seed: 0);
        Assert.Equal(8, scan.KeptRows.Length);
        var x = RandomBatch(2, [3, 8, 6], generator);
        var y = scan.Forward(x);
        Assert.Equal(Norm(x), Norm(y), 10); // Parseval
        Assert.True(scan.BackProject(y).allclose(x, rtol: 1e-12, atol: 1e-12));
    }

    [Fact]
    public void Random_lines_keep_one_in_R_with_the_centre_band()
    {
        using var scan = new FourierSubsampling([3, 32, 32], 4, LinePattern.Random, seed: 7);
        Assert.Equal(8, scan.KeptRows.Length);
        // Centre band round(32 · 0.32 / 4) = 3 rows: frequencies 0, +1, −1.
        Assert.Contains(0L, scan.KeptRows);
        Assert.Contains(1L, scan.KeptRows);
        Assert.Contains(31L, scan.KeptRows);
        using var other = new FourierSubsampling([3, 32, 32], 4, LinePattern.Random, seed: 8);
        Assert.NotEqual(scan.KeptRows, other.KeptRows);
    }

    [Fact]
    public void Equispaced_lines_are_every_Rth_frequency_plus_the_centre_band_whatever_the_seed()
    {
        using var scan = new FourierSubsampling([1, 32, 16], 4, LinePattern.Equispaced, seed: 1);
        using var other = new FourierSubsampling([1, 32, 16], 4, LinePattern.Equispaced, seed: 2);
        Assert.Equal(scan.KeptRows, other.KeptRows);
        var expected = Enumerable.Range(0, 32).Select(k => (long)k)
            .Where(k => SignedFrequency(k, 32) % 4 == 0 || Math.Abs(SignedFrequency(k, 32)) <= 1).ToArray();
        Assert.Equal(expected, scan.KeptRows);
    }

    [Fact]
    public void Adjoint_is_the_zero_filled_inverse()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(42);
        using var scan = new FourierSubsampling([2, 8, 8], 4, LinePattern.Random, seed: 4);
        var y = RandomBatch(2, [2, 8, 8, 2], generator);
        var rowMask = zeros([1, 1, 8, 1], float64);
        foreach (var k in scan.KeptRows) rowMask[0, 0, k, 0] = 1.0;
        var expected = fft.ifft2(view_as_complex(y) * rowMask, norm: TorchSharp.FFTNormType.Ortho).real;
        Assert.True(scan.Adjoint(y).allclose(expected, rtol: 1e-12, atol: 1e-14));
        Assert.True(scan.BackProject(y).allclose(expected, rtol: 1e-12, atol: 1e-14));
    }
}
