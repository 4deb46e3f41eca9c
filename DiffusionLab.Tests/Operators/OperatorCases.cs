using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Operators;

/// <summary>The settings every operator test sweeps: catalog ids, each parameter at its extremes, and awkward shapes.</summary>
static class OperatorCases
{
    /// <summary>Sample shape and batch size: square and not, odd sizes, one channel, the lab's 3×32×32.</summary>
    public static readonly (long[] Shape, int Batch)[] ImageShapes =
    [
        ([3, 8, 8], 2),
        ([2, 5, 7], 3),
        ([1, 6, 4], 1),
        ([3, 32, 32], 2),
    ];

    public static IEnumerable<object[]> AllIds() => OperatorCatalog.All.Select(d => new object[] { d.Id });

    public static IEnumerable<object[]> LinearIds() => OperatorCatalog.All.Where(d => d.IsLinear).Select(d => new object[] { d.Id });

    public static OperatorDescriptor Descriptor(string id) =>
        OperatorCatalog.Find(id) ?? throw new InvalidOperationException($"no catalog entry {id}");

    public static Dictionary<string, double> Defaults(OperatorDescriptor descriptor) =>
        descriptor.Parameters.ToDictionary(p => p.Key, p => p.Default);

    /// <summary>The defaults, then each parameter alone at its minimum and maximum (every index for a choice).</summary>
    public static IEnumerable<Dictionary<string, double>> ParameterSettings(OperatorDescriptor descriptor)
    {
        yield return Defaults(descriptor);
        foreach (var parameter in descriptor.Parameters)
        {
            var values = parameter.Choices is { Count: > 0 } choices
                ? Enumerable.Range(0, choices.Count).Select(i => (double)i)
                : [parameter.Min, parameter.Max];
            foreach (var value in values)
            {
                var setting = Defaults(descriptor);
                setting[parameter.Key] = value;
                yield return setting;
            }
        }
    }

    public static string Describe(string id, IReadOnlyDictionary<string, double> setting, long[] shape) =>
        $"{id} {{{string.Join(", ", setting.Select(kv => $"{kv.Key}={kv.Value}"))}}} on [{string.Join(", ", shape)}]";

    public static Tensor RandomBatch(int batch, long[] shape, Generator generator, ScalarType dtype = ScalarType.Float64) =>
        randn([batch, .. shape], dtype, generator: generator);

    /// <summary>⟨a, b⟩ summed over the whole batch, in float64.</summary>
    public static double Inner(Tensor a, Tensor b)
    {
        using var product = (a.to(float64) * b.to(float64)).sum();
        return product.item<double>();
    }

    /// <summary>Same shape and exactly the same values.</summary>
    public static bool Same(Tensor a, Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var equal = a.eq(b).all();
        return equal.item<bool>();
    }

    public static double Norm(Tensor a) => Math.Sqrt(Inner(a, a));
}
