using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

public class PhaseRetrievalTests
{
    /// <summary>A small object on a black (−1) background, its corner at (row, col).</summary>
    static Tensor ObjectAt(Tensor patch, long row, long col, long size)
    {
        var image = full([1, patch.shape[1], size, size], -1.0, float64);
        image[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(row, row + patch.shape[2]), TensorIndex.Slice(col, col + patch.shape[3])] = patch;
        return image;
    }

    [Fact]
    public void Phase_retrieval_is_nonlinear_and_refuses_an_adjoint()
    {
        using var scope = NewDisposeScope();
        using var magnitudes = new PhaseRetrieval([3, 8, 8], 2);
        Assert.False(magnitudes.IsLinear);
        Assert.Equal([3L, 16, 16], magnitudes.OutputShape);
        var y = zeros(1, 3, 16, 16);
        Assert.Throws<NotSupportedException>(() => magnitudes.Adjoint(y));
        Assert.Equal(0.0, magnitudes.BackProject(y).abs().sum().item<float>());
    }

    [Fact]
    public void Magnitudes_keep_the_energy_of_the_framed_image()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(50);
        using var magnitudes = new PhaseRetrieval([2, 6, 5], 2.5);
        var x = RandomBatch(3, [2, 6, 5], generator).clamp(-1, 1);
        var y = magnitudes.Forward(x);
        var expected = ((x + 1) / 2).square().sum([2, 3]);
        Assert.True(y.square().sum([2, 3]).allclose(expected, rtol: 1e-12, atol: 1e-12)); // Parseval
    }

    [Fact]
    public void Shifted_and_flipped_objects_give_the_same_measurement()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(51);
        using var magnitudes = new PhaseRetrieval([1, 8, 8], 2);
        var patch = RandomBatch(1, [1, 3, 4], generator).clamp(-1, 1);
        var x = ObjectAt(patch, 1, 2, 8);
        var y = magnitudes.Forward(x);
        Assert.True(magnitudes.Forward(ObjectAt(patch, 4, 3, 8)).allclose(y, rtol: 1e-10, atol: 1e-12), "a shifted object changed |F x|");
        Assert.True(magnitudes.Forward(x.flip(2, 3)).allclose(y, rtol: 1e-10, atol: 1e-12), "a flipped object changed |F x|");
        var different = ObjectAt(patch.flip(3), 1, 2, 8);
        Assert.False(magnitudes.Forward(different).allclose(y, rtol: 1e-6, atol: 1e-8), "a mirrored-in-one-axis object should differ");
    }

    [Fact]
    public void Gradient_matches_a_finite_difference()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(52);
        using var magnitudes = new PhaseRetrieval([1, 6, 6], 2);
        var x = (0.5 * RandomBatch(1, [1, 6, 6], generator)).requires_grad_(true);
        var direction = RandomBatch(1, [1, 6, 6], generator);
        Tensor Loss(Tensor input) => magnitudes.Forward(input).square().sqrt().sum(); // Σ |y|, sensitive to the phase-free magnitudes
        Loss(x).backward();
        double analytic = Inner(x.grad!, direction);
        const double h = 1e-6;
        using var noGrad = no_grad();
        double numeric = (Loss(x + h * direction).item<double>() - Loss(x - h * direction).item<double>()) / (2 * h);
        Assert.Equal(numeric, analytic, 6);
    }
}
