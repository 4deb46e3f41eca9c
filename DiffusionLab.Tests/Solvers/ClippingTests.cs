using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>
/// Clipping x̂0 is a solver's setting with each paper's default, never something the prior does
/// behind the solvers' backs: the catalog hands out the network as trained.
/// </summary>
public class ClippingTests
{
    static readonly PriorCatalog Priors = PriorCatalog.ForContentRoot(ContentRoot.Find());

    /// <summary>An image-shaped prior whose ε is a constant, so x̂0 at t = T−1 is far outside [-1, 1].</summary>
    sealed class ConstantNoisePrior(long[] shape) : IDenoiser
    {
        public string Name => "constant";
        public NoiseSchedule Schedule { get; } = NoiseSchedule.Linear(1000);
        public long[] SampleShape => shape;
        public Device Device => CPU;
        public Tensor PredictNoise(Tensor xt, Tensor t) => full_like(xt, 0.5f);
    }

    static double FirstX0HatMagnitude(ISolver solver, IDenoiser prior)
    {
        using var scope = NewDisposeScope();
        var problem = new RunProblem(prior, null, null, NoiseModel.Gaussian(0));
        foreach (var step in SolverRun.Steps(solver, problem, 10, 1, RunSeeds.ForSamples(0, 1)))
            return step.X0Hat.abs().max().item<float>();
        throw new InvalidOperationException("no step");
    }

    [Fact]
    public void The_catalog_hands_out_the_network_without_clipping()
    {
        var prior = Priors.Load(PriorCatalog.PreferredDefaultId);
        Assert.IsNotType<ClippedDenoiser>(prior);
    }

    [Fact]
    public void The_reverse_sde_and_the_ode_integrate_the_networks_own_score_on_the_bundled_prior()
    {
        var prior = Priors.Load(PriorCatalog.PreferredDefaultId);
        foreach (var id in new[] { "reverse-sde", "probability-flow" })
        {
            var descriptor = SolverCatalog.Find(id)!;
            // From pure noise at t = T−1 the network's x̂0 divides by √ᾱ ≈ 0.006: unclipped it leaves the image range.
            Assert.True(FirstX0HatMagnitude(descriptor.Create(descriptor.DefaultsFor("denoise")), prior) > 1.5, id);
            var clipped = new Dictionary<string, double>(descriptor.DefaultsFor("denoise")) { ["clipX0"] = 1 };
            Assert.True(FirstX0HatMagnitude(descriptor.Create(clipped), prior) <= 1 + 1e-6, id + " with clipping on");
        }
    }

    [Fact]
    public void Ddpm_and_ddim_clip_by_default_and_not_when_told()
    {
        var prior = new ConstantNoisePrior([1, 2, 2]);
        foreach (var id in new[] { "ddpm", "ddim" })
        {
            var descriptor = SolverCatalog.Find(id)!;
            Assert.True(FirstX0HatMagnitude(descriptor.Create(descriptor.DefaultsFor(null)), prior) <= 1 + 1e-6, id);
            var off = new Dictionary<string, double>(descriptor.DefaultsFor(null)) { ["clipX0"] = 0 };
            Assert.True(FirstX0HatMagnitude(descriptor.Create(off), prior) > 10, id + " with clipping off");
        }
    }

    [Fact]
    public void Ddim_with_clipping_steps_from_the_noise_of_the_clamped_estimate()
    {
        // One DDIM step from t = T−1 straight to the clean end lands on x̂0, so with clipping on it lands on clamp(x̂0).
        using var scope = NewDisposeScope();
        var prior = new ConstantNoisePrior([1, 2, 2]);
        var problem = new RunProblem(prior, null, null, NoiseModel.Gaussian(0));
        foreach (var step in SolverRun.Steps(new Ddim(0, clipX0: true), problem, 1, 1, RunSeeds.ForSamples(3, 1)))
        {
            Assert.Equal(step.X0Hat.data<float>().ToArray(), step.Xt.data<float>().ToArray());
            Assert.All(step.Xt.data<float>().ToArray(), v => Assert.InRange(v, -1f, 1f));
        }
    }

    [Fact]
    public void Clipping_never_touches_the_points_of_a_vector_prior()
    {
        var prior = new ConstantNoisePrior([2]);
        Assert.True(FirstX0HatMagnitude(new Ddpm(clipX0: true), prior) > 10);
    }

    [Fact]
    public void Dps_clip_toggle_changes_the_run_on_an_image_prior()
    {
        var runner = new Runner(Priors);
        double Final(int clip)
        {
            using var scope = NewDisposeScope();
            var spec = SpecLink.Read($"prior=pixel-faces-32&op=box-inpainting&solver=dps&s.clipX0={clip}&steps=4&seed=2", new CatalogOfferings(Priors)).Spec;
            using var run = runner.Prepare(spec);
            return runner.Run(run).Last().Psnr;
        }
        Assert.NotEqual(Final(0), Final(1));
    }

    [Theory]
    [InlineData("solver=ddpm", 1)]
    [InlineData("solver=ddim", 1)]
    [InlineData("solver=sdedit&op=denoise", 1)]
    [InlineData("op=box-inpainting&solver=dps", 1)]
    [InlineData("solver=reverse-sde", 0)]
    [InlineData("solver=probability-flow", 0)]
    public void A_link_without_the_setting_gets_the_methods_default(string query, double clip)
    {
        var offerings = new CatalogOfferings(Priors);
        var read = SpecLink.Read(query, offerings);
        Assert.Equal(clip, read.Spec.SolverParameters["clipX0"]);
    }
}
