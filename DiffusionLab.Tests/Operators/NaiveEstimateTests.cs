using DiffusionLab.Engine;
using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

/// <summary>
/// The yardstick beside every result: the estimate from y alone. Where an operator calls it A⁺y,
/// it must be the Moore–Penrose pseudo-inverse of the operator's own matrix, built here column by
/// column from Forward and inverted with linalg.pinv; the others say what they give instead.
/// </summary>
public class NaiveEstimateTests
{
    [Theory]
    [InlineData(BoxInpainting.CatalogId, new long[] { 1, 6, 6 })]
    [InlineData(RandomInpainting.CatalogId, new long[] { 2, 5, 4 })]
    [InlineData(SuperResolution.CatalogId, new long[] { 1, 6, 6 })]
    [InlineData(SuperResolution.CatalogId, new long[] { 1, 7, 5 })] // rows and columns left over
    [InlineData(Colorization.CatalogId, new long[] { 3, 3, 4 })]
    [InlineData(FourierSubsampling.CatalogId, new long[] { 1, 8, 6 })]
    [InlineData(Denoise.CatalogId, new long[] { 2, 3, 3 })]
    public void The_pseudo_inverse_is_the_matrix_pseudo_inverse(string id, long[] shape)
    {
        using var scope = NewDisposeScope();
        var operatorA = Descriptor(id).Create(Defaults(Descriptor(id)), shape, 5);
        Assert.StartsWith(id == Denoise.CatalogId ? "y itself" : "A⁺y", operatorA.NaiveEstimateName);
        var size = shape.Aggregate(1L, (a, b) => a * b);
        // Column j of A is A applied to the j-th unit image.
        var basis = eye(size, dtype: float64).reshape([size, .. shape]);
        var matrix = operatorA.Forward(basis).reshape(size, -1).t(); // [m, d]
        var pseudoInverse = linalg.pinv(matrix);

        using var generator = new Generator(8);
        var x = RandomBatch(1, shape, generator);
        var y = operatorA.Forward(x);
        var expected = pseudoInverse.matmul(y.reshape(-1)).reshape([1, .. shape]);
        var estimate = operatorA.NaiveEstimate(y)!;
        Assert.True(estimate.allclose(expected, rtol: 1e-9, atol: 1e-9),
            $"{id}: largest gap {(estimate - expected).abs().max().item<double>():G3}");
    }

    [Theory]
    [InlineData(GaussianBlur.CatalogId)]
    [InlineData(MotionBlur.CatalogId)]
    public void A_blur_is_measured_against_y_itself(string id)
    {
        using var scope = NewDisposeScope();
        var blur = Descriptor(id).Create(Defaults(Descriptor(id)), [3, 8, 8], 2);
        using var generator = new Generator(9);
        var y = blur.Forward(RandomBatch(2, [3, 8, 8], generator));
        Assert.True(Same(blur.NaiveEstimate(y)!, y));
        Assert.Contains("no deblurring", blur.NaiveEstimateName);
    }

    [Fact]
    public void Phase_retrieval_has_no_naive_estimate_but_its_y_is_drawn_as_a_spectrum()
    {
        using var scope = NewDisposeScope();
        using var phase = new PhaseRetrieval([3, 8, 8], 2);
        using var generator = new Generator(10);
        var x = RandomBatch(1, [3, 8, 8], generator).Clamped(-1, 1);
        var y = phase.Forward(x);
        Assert.Null(phase.NaiveEstimate(y));
        Assert.Contains("phase", phase.NaiveEstimateName);

        var picture = phase.Picture(y);
        Assert.Equal([1L, 3, 16, 16], picture.shape);
        Assert.True(picture.max().item<double>() <= 1 + 1e-12 && picture.min().item<double>() >= -1 - 1e-12);
        Assert.True(picture.std().item<double>() > 0.05, "the diffraction pattern should not be a flat picture");
        // The zero frequency (middle, after fftshift) of a non-negative image is its brightest value.
        Assert.Equal(1.0, picture[0, .., 8, 8].max().item<double>(), 9);
    }

    [Fact]
    public void Fourier_subsampling_draws_its_mask_the_rows_it_never_measured_are_black()
    {
        using var scope = NewDisposeScope();
        using var scan = new FourierSubsampling([1, 16, 16], 4, LinePattern.Equispaced, 3);
        using var generator = new Generator(11);
        var y = scan.Forward(RandomBatch(1, [1, 16, 16], generator));
        var picture = scan.Picture(y);
        Assert.Equal([1L, 1, 16, 16], picture.shape);
        var kept = scan.KeptRows.Select(row => (row + 8) % 16).ToHashSet(); // where fftshift puts each row
        for (long row = 0; row < 16; row++)
        {
            var line = picture[0, 0, row];
            if (kept.Contains(row)) Assert.True(line.max().item<double>() > -1, $"measured row {row} should show");
            else Assert.True(line.eq(-1).all().item<bool>(), $"row {row} was not measured and should be black");
        }
    }
}
