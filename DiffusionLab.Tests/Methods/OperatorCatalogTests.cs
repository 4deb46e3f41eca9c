using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Tests.Operators;
using static DiffusionLab.Tests.Operators.OperatorCases;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Methods;

public class OperatorCatalogTests
{
    [Fact]
    public void Catalog_offers_every_corruption_once()
    {
        string[] expected = ["denoise", "gaussian-blur", "motion-blur", "box-inpainting", "random-inpainting",
                             "super-resolution", "colorization", "fourier-subsampling", "phase-retrieval"];
        Assert.Equal(expected, OperatorCatalog.All.Select(d => d.Id).ToArray());
        Assert.Equal(["phase-retrieval"], OperatorCatalog.All.Where(d => !d.IsLinear).Select(d => d.Id).ToArray());
        Assert.Null(OperatorCatalog.Find("no-such-corruption"));
    }

    [Theory]
    [MemberData(nameof(AllIds), MemberType = typeof(OperatorCases))]
    public void Entry_has_words_valid_defaults_and_a_working_factory(string id)
    {
        var descriptor = Descriptor(id);
        Assert.False(string.IsNullOrWhiteSpace(descriptor.DisplayName));
        int sentences = descriptor.Explanation.Split(". ", StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.InRange(sentences, 1, 3);
        Assert.Equal(descriptor.Parameters.Count, descriptor.Parameters.Select(p => p.Key).Distinct().Count());
        foreach (var p in descriptor.Parameters)
        {
            Assert.Null(p.Validate(p.Default));
            Assert.False(string.IsNullOrWhiteSpace(p.Label));
            Assert.False(string.IsNullOrWhiteSpace(p.Description));
            if (p.Choices is null) Assert.NotNull(p.Validate(p.Max + 1));
        }

        // Missing parameters read as their defaults; the lab's 3×32×32 images.
        foreach (var parameters in new[] { new Dictionary<string, double>(), Defaults(descriptor) })
        {
            var operatorA = descriptor.Create(parameters, [3, 32, 32], 42);
            try
            {
                Assert.Equal(id, operatorA.Id);
                Assert.Equal(descriptor.IsLinear, operatorA.IsLinear);
                Assert.Equal([3L, 32, 32], operatorA.InputShape);
            }
            finally { (operatorA as IDisposable)?.Dispose(); }
        }
    }

    [Theory]
    [MemberData(nameof(AllIds), MemberType = typeof(OperatorCases))]
    public void Outputs_have_the_declared_shapes_for_every_setting(string id)
    {
        var descriptor = Descriptor(id);
        using var generator = new Generator(3);
        foreach (var setting in ParameterSettings(descriptor))
            foreach (var (shape, batch) in ImageShapes)
            {
                using var scope = NewDisposeScope();
                var operatorA = descriptor.Create(setting, shape, 1);
                try
                {
                    string where = Describe(id, setting, shape);
                    var x = RandomBatch(batch, shape, generator, ScalarType.Float32);
                    var y = operatorA.Forward(x);
                    Assert.True(y.shape.SequenceEqual([batch, .. operatorA.OutputShape]), where);
                    Assert.Equal(ScalarType.Float32, y.dtype);
                    Assert.True(y.isfinite().all().item<bool>(), where);
                    var picture = operatorA.BackProject(y);
                    Assert.True(picture.shape.SequenceEqual([batch, .. shape]), where);
                    if (operatorA.IsLinear)
                        Assert.True(operatorA.Adjoint(y).shape.SequenceEqual([batch, .. shape]), where);
                }
                finally { (operatorA as IDisposable)?.Dispose(); }
            }
    }

    [Theory]
    [MemberData(nameof(AllIds), MemberType = typeof(OperatorCases))]
    public void Gradients_flow_through_forward(string id)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(8);
        var operatorA = Descriptor(id).Create(new Dictionary<string, double>(), [3, 32, 32], 5);
        try
        {
            var x = (0.5 * RandomBatch(2, [3, 32, 32], generator, ScalarType.Float32)).requires_grad_(true);
            var residual = operatorA.Forward(x).flatten(1).square().sum(1).sqrt(); // DPS: one norm per sample
            residual.sum().backward();
            Assert.NotNull(x.grad);
            Assert.True(x.grad!.isfinite().all().item<bool>(), $"{id}: gradient not finite");
            var perSample = x.grad.flatten(1).abs().sum(1);
            Assert.True((perSample > 0).all().item<bool>(), $"{id}: a sample got no gradient");
        }
        finally { (operatorA as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void Denoise_and_random_inpainting_accept_flat_vectors()
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(2);
        foreach (var id in new[] { "denoise", "random-inpainting" })
        {
            var operatorA = Descriptor(id).Create(new Dictionary<string, double>(), [8], 4);
            try
            {
                var x = RandomBatch(3, [8], generator);
                var y = RandomBatch(3, [8], generator);
                Assert.True(operatorA.Forward(x).shape.SequenceEqual([3L, 8]));
                Assert.Equal(Inner(operatorA.Forward(x), y), Inner(x, operatorA.Adjoint(y)), 12);
            }
            finally { (operatorA as IDisposable)?.Dispose(); }
        }
        using var inpainting = new RandomInpainting([8], 0.5, 4);
        using var missing = (inpainting.Mask == 0).sum();
        Assert.Equal(4, missing.item<long>());
    }

    [Fact]
    public void Image_corruptions_refuse_flat_vectors_in_words()
    {
        var error = Assert.Throws<ArgumentException>(() => Descriptor("gaussian-blur").Create(new Dictionary<string, double>(), [8], 0));
        Assert.Contains("[channels, height, width]", error.Message);
    }

    [Fact]
    public void Wrong_batch_shape_is_refused_in_words()
    {
        using var blur = new GaussianBlur([3, 8, 8], 3, 1.0);
        using var x = zeros(2, 3, 8, 9);
        var error = Assert.Throws<ArgumentException>(() => blur.Forward(x));
        Assert.Contains("[B, 3, 8, 8]", error.Message);
    }

    [Fact]
    public void Operator_built_inside_a_dispose_scope_outlives_it()
    {
        IMeasurement operatorA;
        using (NewDisposeScope())
        {
            operatorA = Descriptor("random-inpainting").Create(new Dictionary<string, double>(), [1, 4, 4], 1);
        }
        try
        {
            using var x = ones(1, 1, 4, 4);
            using var y = operatorA.Forward(x);
            using var seen = y.sum();
            Assert.Equal(8.0, seen.item<float>());
        }
        finally { (operatorA as IDisposable)?.Dispose(); }
    }

    [Fact]
    public void Each_call_leaves_only_its_result_in_the_callers_scope()
    {
        using var generator = new Generator(6);
        using var x = randn([2, 3, 8, 8], generator: generator);
        var operators = OperatorCatalog.All.Select(d => d.Create(new Dictionary<string, double>(), [3, 8, 8], 1)).ToList();
        try
        {
            foreach (var operatorA in operators)
            {
                using var scope = NewDisposeScope();
                var y = operatorA.Forward(x);
                Assert.Equal(1, scope.DisposablesCount);
                operatorA.BackProject(y);
                Assert.Equal(2, scope.DisposablesCount);
                if (operatorA.IsLinear)
                {
                    operatorA.Adjoint(y);
                    Assert.Equal(3, scope.DisposablesCount);
                }
            }
        }
        finally { foreach (var o in operators) (o as IDisposable)?.Dispose(); }
    }
}
