using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Solvers.Regularizers;
using DiffusionLab.Tests.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Methods;

public class ClassicalSolverCatalogTests
{
    static readonly string?[] Corruptions =
        [null, "denoise", "gaussian-blur", "motion-blur", "box-inpainting", "random-inpainting", "super-resolution",
         "colorization", "fourier-subsampling", "phase-retrieval", "something-new"];

    [Theory]
    [InlineData("hqs")]
    [InlineData("admm")]
    public void Every_default_is_allowed_by_its_own_parameter_and_builds_the_solver(string id)
    {
        var descriptor = SolverCatalog.Find(id)!;
        Assert.Equal(SolverFamily.Classical, descriptor.Family);
        Assert.True(descriptor.NeedsLinearOperator);
        foreach (var parameter in descriptor.Parameters)
            Assert.Null(parameter.Validate(parameter.Default));
        foreach (var corruption in Corruptions)
            foreach (var kind in Enum.GetValues<RegularizerKind>())
            {
                var defaults = ClassicalSolverCatalog.DefaultsFor(id, corruption, kind);
                Assert.Equal(descriptor.Parameters.Select(p => p.Key).Order(), defaults.Keys.Order());
                foreach (var parameter in descriptor.Parameters)
                    Assert.Null(parameter.Validate(defaults[parameter.Key]));
                Assert.Equal(id, descriptor.Create(defaults).Id);
            }
        Assert.Equal(descriptor.DefaultsFor("denoise"), ClassicalSolverCatalog.DefaultsFor(id, "denoise", RegularizerKind.TotalVariation));
    }

    [Fact]
    public void An_unknown_regulariser_is_refused_in_plain_words()
    {
        var defaults = new Dictionary<string, double>(SolverCatalog.Find("admm")!.DefaultsFor(null)) { ["regularizer"] = 7 };
        var error = Assert.Throws<SolverException>(() => SolverCatalog.Find("admm")!.Create(defaults));
        Assert.Contains("total variation", error.Message);
    }

    /// <summary>A 32×32 test picture in [-1, 1]: smooth shading with a flat disc and a flat box, like a simple photo.</summary>
    static Tensor Picture()
    {
        using var scope = NewDisposeScope();
        var row = arange(32, dtype: float32).reshape(32, 1).expand(32, 32);
        var column = arange(32, dtype: float32).reshape(1, 32).expand(32, 32);
        var image = stack([-0.6 + 0.04 * column, 0.5 - 0.03 * row, 0.2 * (column * 0.4).sin()]);
        var disc = ((row - 20).square() + (column - 12).square()).lt(36).to(float32);
        image = image * (1 - disc) + disc * tensor(new[] { 0.8f, -0.5f, 0.3f }).reshape(3, 1, 1);
        var box = (row.gt(4) & row.lt(12) & column.gt(18) & column.lt(28)).to(float32);
        image = image * (1 - box) + box * tensor(new[] { -0.9f, 0.9f, -0.2f }).reshape(3, 1, 1);
        return image.unsqueeze(0).MoveToOuterDisposeScope();
    }

    static double Psnr(Tensor estimate, Tensor clean) => 10 * Math.Log10(4.0 / (estimate.clamp(-1, 1) - clean).square().mean().item<float>());

    sealed class Identity : IMeasurement
    {
        public string Id => "denoise";
        public bool IsLinear => true;
        public long[] InputShape => [3, 32, 32];
        public long[] OutputShape => [3, 32, 32];
        public Tensor Forward(Tensor x) => x.clone();
        public Tensor Adjoint(Tensor y) => y.clone();
        public Tensor BackProject(Tensor y) => y.clone();
    }

    [Theory]
    [InlineData("hqs", "denoise", 3.0)]
    [InlineData("admm", "denoise", 3.0)]
    [InlineData("admm", "random-inpainting", 8.0)]
    public void Total_variation_defaults_clean_up_a_32px_picture_with_sigma_y_005(string id, string corruption, double gainDb)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(3);
        var clean = Picture();
        using var mask = new PixelMaskMeasurement([3, 32, 32], fractionKept: 0.5, seed: 4);
        IMeasurement a = corruption == "denoise" ? new Identity() : mask;
        var y = a.Forward(clean) + 0.05 * randn([1, 3, 32, 32], generator: generator);
        var descriptor = SolverCatalog.Find(id)!;
        var context = new SolverContext(new IsotropicGaussianPrior([3, 32, 32], 1), a, y, NoiseModel.Gaussian(0.05),
            descriptor.DefaultSteps, 1, generator);

        Tensor? answer = null;
        foreach (var step in descriptor.Create(descriptor.DefaultsFor(corruption)).Solve(context))
            if (step.IsFinal) answer = step.X0Hat.clone();

        double before = Psnr(a.BackProject(y), clean), after = Psnr(answer!, clean);
        Assert.True(after > before + gainDb, $"PSNR {before:F1} dB → {after:F1} dB");
    }
}
