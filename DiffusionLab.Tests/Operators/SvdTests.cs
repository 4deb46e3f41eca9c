using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

/// <summary>
/// The closed-form SVDs A = U Σ Vᵀ against the operators themselves, for every corruption that
/// offers one, every parameter at its extremes and several shapes, in float64: A x = U(Σ ⊙ Vᵀx),
/// Aᵀy = V(Σ ⊙ Uᵀy), Vᵀ an isometry with V its adjoint, and U's columns orthonormal.
/// </summary>
public class SvdTests
{
    public static TheoryData<string> SvdIds => new() { "denoise", "box-inpainting", "random-inpainting", "super-resolution", "colorization", "fourier-subsampling" };

    [Theory]
    [MemberData(nameof(SvdIds))]
    public void Svd_reproduces_the_operator_and_its_adjoint(string id)
    {
        var descriptor = Descriptor(id);
        using var generator = new Generator(99);
        int checkedCases = 0;
        foreach (var setting in ParameterSettings(descriptor))
            foreach (var (shape, batch) in ImageShapes)
            {
                using var scope = NewDisposeScope();
                var operatorA = descriptor.Create(setting, shape, 7);
                try
                {
                    var svd = Assert.IsAssignableFrom<ISvdMeasurement>(operatorA);
                    string where = Describe(id, setting, shape);
                    var x = RandomBatch(batch, svd.InputShape, generator);
                    var y = RandomBatch(batch, svd.OutputShape, generator);
                    var s = svd.SingularValues;
                    Assert.Equal(svd.SpectralShape, s.shape);

                    var spectral = svd.ToSpectral(x);
                    AssertClose(svd.Forward(x), svd.SpectralToMeasurement(spectral * s), $"{where}: A x vs U Σ Vᵀ x");
                    AssertClose(svd.Adjoint(y), svd.FromSpectral(svd.MeasurementToSpectral(y) * s), $"{where}: Aᵀ y vs V Σ Uᵀ y");

                    // Vᵀ keeps lengths and V undoes it; V is Vᵀ's adjoint.
                    Assert.Equal(Norm(x), Norm(spectral), 9);
                    AssertClose(x, svd.FromSpectral(spectral), $"{where}: V Vᵀ x");
                    var w = svd.ToSpectral(RandomBatch(batch, svd.InputShape, generator));
                    Assert.Equal(Inner(spectral, w), Inner(x, svd.FromSpectral(w)), 9);

                    // U has orthonormal columns on the coordinates A sees: Uᵀ U z = z there, and ⟨U z, y⟩ = ⟨z, Uᵀ y⟩.
                    var seen = s.gt(0).to(float64);
                    var z = spectral * seen;
                    AssertClose(z, svd.MeasurementToSpectral(svd.SpectralToMeasurement(z)), $"{where}: Uᵀ U z");
                    Assert.Equal(Inner(svd.SpectralToMeasurement(z), y), Inner(z, svd.MeasurementToSpectral(y)), 9);
                    checkedCases++;
                }
                finally { (operatorA as IDisposable)?.Dispose(); }
            }
        Assert.True(checkedCases >= ImageShapes.Length);
    }

    [Fact]
    public void Singular_values_are_the_ones_the_corruptions_imply()
    {
        using var scope = NewDisposeScope();
        using var sr = new SuperResolution([3, 8, 8], 4);
        Assert.Equal(3 * 2 * 2, sr.SingularValues.gt(0).sum().item<long>()); // one coordinate per 4×4 block and channel
        Assert.Equal(0.25, sr.SingularValues.max().item<double>(), 12);
        using var grey = new Colorization([3, 4, 4]);
        Assert.Equal(1 / Math.Sqrt(3), grey.SingularValues.max().item<double>(), 12);
        using var box = new BoxInpainting([3, 8, 8], 4, BoxPlacement.Centre);
        Assert.Equal(3 * (64 - 16), box.SingularValues.sum().item<double>(), 12);
        using var fourier = new FourierSubsampling([1, 8, 8], 8, LinePattern.Random, seed: 1);
        // One row measured (the zero frequency, its own mirror): singular value 1 on one row, 0 on the others.
        Assert.Equal(8 * 2, fourier.SingularValues.eq(1).sum().item<long>());
        Assert.Equal(8 * 2 * 8, fourier.SingularValues.numel());
    }

    [Fact]
    public void A_matrix_operator_exposes_its_own_svd()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        foreach (var (m, d) in new[] { (2, 5), (5, 5), (6, 4) })
        {
            using var a = new MatrixMeasurement(randn([m, d], generator: generator), [d]);
            var x = randn([3, d], generator: generator);
            var y = randn([3, m], generator: generator);
            AssertClose(a.Forward(x), a.SpectralToMeasurement(a.ToSpectral(x) * a.SingularValues.to(float32)), $"{m}×{d}: A x", 1e-5);
            AssertClose(a.Adjoint(y), a.FromSpectral(a.MeasurementToSpectral(y) * a.SingularValues.to(float32)), $"{m}×{d}: Aᵀ y", 1e-5);
            AssertClose(x, a.FromSpectral(a.ToSpectral(x)), $"{m}×{d}: V Vᵀ x", 1e-5);
            Assert.Equal(d, a.SpectralShape[0]);
            Assert.Equal(Math.Max(0, d - m), a.SingularValues.eq(0).sum().item<long>());
        }
    }

    static void AssertClose(Tensor expected, Tensor actual, string what, double tolerance = 1e-10)
    {
        Assert.Equal(expected.shape, actual.shape);
        double error = Norm(expected - actual), scale = Norm(expected) + 1e-300;
        Assert.True(error <= tolerance * Math.Max(scale, 1), $"{what}: relative error {error / scale:E2}");
    }
}
