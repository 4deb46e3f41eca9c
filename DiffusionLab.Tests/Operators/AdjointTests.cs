using DiffusionLab.Engine.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

/// <summary>
/// ⟨A x, y⟩ = ⟨x, Aᵀ y⟩ for every linear corruption, every parameter at its extremes,
/// several shapes and batch sizes, in float64 so the tolerance can be tight.
/// </summary>
public class AdjointTests
{
    [Theory]
    [MemberData(nameof(LinearIds), MemberType = typeof(OperatorCases))]
    public void Adjoint_satisfies_the_inner_product_identity(string id)
    {
        var descriptor = Descriptor(id);
        using var generator = new Generator(1234);
        int checkedCases = 0;
        foreach (var setting in ParameterSettings(descriptor))
            foreach (var (shape, batch) in ImageShapes)
                foreach (int seed in new[] { 0, 7 })
                {
                    using var scope = NewDisposeScope();
                    var operatorA = descriptor.Create(setting, shape, seed);
                    try
                    {
                        var x = RandomBatch(batch, operatorA.InputShape, generator);
                        var y = RandomBatch(batch, operatorA.OutputShape, generator);
                        var ax = operatorA.Forward(x);
                        var aty = operatorA.Adjoint(y);
                        double lhs = Inner(ax, y), rhs = Inner(x, aty);
                        double scale = Norm(ax) * Norm(y) + Norm(x) * Norm(aty) + 1e-300;
                        Assert.True(Math.Abs(lhs - rhs) <= 1e-12 * scale,
                            $"{Describe(id, setting, shape)} seed {seed}: <Ax,y> = {lhs:R}, <x,Aᵀy> = {rhs:R}");
                        checkedCases++;
                    }
                    finally { (operatorA as IDisposable)?.Dispose(); }
                }
        Assert.True(checkedCases >= ImageShapes.Length * 2);
    }

    [Fact]
    public void Blur_adjoint_is_exact_when_the_kernel_is_wider_than_the_image()
    {
        // Reflect padding then reflects more than once; the folded-back adjoint must still match.
        using var scope = NewDisposeScope();
        using var generator = new Generator(5);
        foreach (var (shape, kernelSize) in new (long[], int)[] { ([1, 2, 3], 9), ([2, 1, 1], 5), ([1, 3, 2], 8) })
        {
            using var blur = new MotionBlur(shape, kernelSize, 1.0, seed: 3);
            var x = RandomBatch(2, shape, generator);
            var y = RandomBatch(2, shape, generator);
            Assert.Equal(Inner(blur.Forward(x), y), Inner(x, blur.Adjoint(y)), 12);
        }
    }

    [Theory]
    [MemberData(nameof(LinearIds), MemberType = typeof(OperatorCases))]
    public void Autograd_through_forward_gives_the_adjoint(string id)
    {
        // ∇ ½‖A x‖² = Aᵀ A x: DPS's gradient through Forward agrees with the hand-written Aᵀ.
        using var scope = NewDisposeScope();
        using var generator = new Generator(99);
        var operatorA = Descriptor(id).Create(new Dictionary<string, double>(), [3, 8, 6], 11);
        try
        {
            var x = RandomBatch(2, operatorA.InputShape, generator).requires_grad_(true);
            var loss = operatorA.Forward(x).square().sum() / 2;
            loss.backward();
            var expected = operatorA.Adjoint(operatorA.Forward(x.detach()));
            Assert.NotNull(x.grad);
            Assert.True(x.grad!.allclose(expected, rtol: 1e-10, atol: 1e-12), $"{id}: autograd gradient differs from AᵀAx");
        }
        finally { (operatorA as IDisposable)?.Dispose(); }
    }
}
