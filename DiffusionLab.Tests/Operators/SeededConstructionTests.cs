using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

/// <summary>An operator is a pure function of (parameters, shape, seed): built twice it is the same, called twice it is the same.</summary>
public class SeededConstructionTests
{
    static readonly HashSet<string> Seeded = ["motion-blur", "box-inpainting", "random-inpainting", "fourier-subsampling"];

    [Theory]
    [MemberData(nameof(AllIds), MemberType = typeof(OperatorCases))]
    public void Same_seed_gives_the_same_operator_and_only_seeded_ones_change_with_it(string id)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(17);
        var descriptor = Descriptor(id);
        var x = RandomBatch(2, [3, 32, 32], generator);
        var empty = new Dictionary<string, double>();
        var first = descriptor.Create(empty, [3, 32, 32], 1);
        var again = descriptor.Create(empty, [3, 32, 32], 1);
        var other = descriptor.Create(empty, [3, 32, 32], 2);
        try
        {
            var y = first.Forward(x);
            Assert.True(Same(y, first.Forward(x)), $"{id}: a second call gave a different result");
            Assert.True(Same(y, again.Forward(x)), $"{id}: the same seed built a different operator");
            bool changed = !Same(y, other.Forward(x));
            Assert.True(changed == Seeded.Contains(id), $"{id}: changing the seed {(changed ? "changed" : "did not change")} the operator");
        }
        finally
        {
            foreach (var o in new[] { first, again, other }) (o as IDisposable)?.Dispose();
        }
    }
}
