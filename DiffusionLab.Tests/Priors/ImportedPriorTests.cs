using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Priors;

/// <summary>
/// An imported network is a prior like any other: it appears in the lab's list with its size, loads clipped as the
/// bundled ones do, and an ADM network with learned σ lets DDPM and DPS draw with the variance it predicts.
/// </summary>
public sealed class ImportedPriorTests : IDisposable
{
    static readonly string Fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
    readonly string root = Directory.CreateTempSubdirectory("diffusionlab-imported-").FullName;
    string Models => Path.Combine(root, "models");

    public ImportedPriorTests()
    {
        var adm = Path.Combine(Fixtures, "guided-diffusion");
        ForeignCheckpoints.ImportGuidedDiffusion(Path.Combine(adm, "adm-tiny.pt"), Path.Combine(adm, "adm-tiny.yaml"), "adm-tiny", Models, null,
            source: "tools/fixtures/write_guided_diffusion.py", licence: "random weights, no licence needed");
        ForeignCheckpoints.ImportDiffusers(Path.Combine(Fixtures, "diffusers", "vpred-tiny"), "vpred-tiny", Models, null);
    }

    public void Dispose() => Directory.Delete(root, recursive: true);

    [Fact]
    public void Imported_networks_are_in_the_lab_s_prior_list_with_their_sizes()
    {
        var catalog = PriorCatalog.ForContentRoot(root, Models);
        var adm = catalog.Find("adm-tiny")!;
        Assert.Equal([3L, 8, 8], adm.SampleShape);
        Assert.Contains("imported adm-unet (tools/fixtures/write_guided_diffusion.py)", adm.Domain);
        var grey = catalog.Find("vpred-tiny")!;
        Assert.Equal([1L, 16, 16], grey.SampleShape);

        // The network as imported, unclipped: clipping x̂0 is each solver's own setting.
        var prior = Assert.IsType<AdmUNet>(catalog.Load("adm-tiny"));
        Assert.True(prior.LearnsVariance);
        Assert.False(catalog.Load("vpred-tiny") is ILearnedVariance { LearnsVariance: true });
    }

    [Fact]
    public void The_learned_variance_lies_between_the_step_s_beta_and_the_posterior_s()
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(4);
        var xt = randn([2, 3, 4, 4], generator: generator);
        var x0Hat = randn([2, 3, 4, 4], generator: generator);
        var noise = ones([2, 3, 4, 4]);
        double a = 0.5, b = 0.6;
        double beta = 1 - a / b, posterior = (1 - b) * beta / (1 - a);
        var mean = ReverseUpdate.Ancestral(xt, x0Hat, a, b, zeros_like(noise));
        foreach (var (v, sigma) in new[] { (1.0, Math.Sqrt(beta)), (-1.0, Math.Sqrt(posterior)), (0.0, Math.Pow(beta * posterior, 0.25)) })
        {
            var drawn = ReverseUpdate.AncestralLearned(xt, x0Hat, a, b, noise, full_like(noise, v));
            Assert.Equal(sigma, (drawn - mean).mean().item<float>(), 5);
        }
        // The step to the clean end adds no noise, whatever the network says.
        var last = ReverseUpdate.AncestralLearned(xt, x0Hat, a, 1, noise, full_like(noise, 1.0));
        Assert.Equal(0, (last - ReverseUpdate.Ancestral(xt, x0Hat, a, 1, zeros_like(noise))).abs().max().item<float>(), 6);
    }

    [Fact]
    public void Ddpm_and_dps_sample_with_the_learned_variance_when_asked()
    {
        var catalog = PriorCatalog.ForContentRoot(root, Models);
        var prior = catalog.Load("adm-tiny");
        var box = OperatorCatalog.Find("box-inpainting")!.Create(new Dictionary<string, double> { ["box-size"] = 4 }, prior.SampleShape, 1);
        using var x0 = zeros([1, .. prior.SampleShape]);
        using var y = box.Forward(x0);

        Tensor Final(ISolver solver, IMeasurement? a, Tensor? measured, out int evaluations)
        {
            using var generator = new TorchSharp.torch.Generator(7);
            Tensor? last = null;
            evaluations = 0;
            // A step's tensors live until the solver moves on: keep a copy of the last one's.
            foreach (var step in solver.Solve(new SolverContext(prior, a, measured, NoiseModel.Gaussian(0.05), 6, 1, generator)))
            {
                if (!step.IsFinal) continue;
                last = step.Xt.clone();
                evaluations = step.NetworkEvaluations;
            }
            return last!;
        }

        using var fixedDdpm = Final(new Ddpm(), null, null, out var fixedEvaluations);
        using var learnedDdpm = Final(new Ddpm(learnedVariance: true), null, null, out var learnedEvaluations);
        Assert.True(learnedDdpm.isfinite().all().item<bool>());
        Assert.True((learnedDdpm - fixedDdpm).abs().max().item<float>() > 1e-3, "the same seed drew with another variance");
        Assert.Equal(fixedEvaluations, learnedEvaluations); // ε and v come from one network call
        using var learnedDps = Final(new Dps(1.0, true, learnedVariance: true), box, y, out var dpsEvaluations);
        Assert.True(learnedDps.isfinite().all().item<bool>());
        Assert.Equal(6 * 3, dpsEvaluations); // forward, backward, and the variance's forward per step
        (box as IDisposable)?.Dispose();
    }

    [Fact]
    public void Asking_a_prior_without_a_variance_for_it_is_refused_in_words()
    {
        var prior = PriorCatalog.ForContentRoot(root, Models).Load("vpred-tiny");
        using var generator = new TorchSharp.torch.Generator(1);
        var refused = Assert.Throws<SolverException>(() => new Ddpm(learnedVariance: true).Solve(new SolverContext(prior, null, null, NoiseModel.Gaussian(0), 3, 1, generator)).ToList());
        Assert.Contains("vpred-tiny does not predict one", refused.Message);
    }

    [Fact]
    public void A_corruption_s_lengths_default_to_the_same_share_of_a_larger_image()
    {
        var box = OperatorCatalog.Find("box-inpainting")!.Parameters.Single(p => p.Key == "box-size");
        Assert.Equal(16, box.DefaultFor(32));
        Assert.Equal(128, box.DefaultFor(256)); // DPS's 128-pixel box on its 256×256 images
        Assert.Equal(32, box.DefaultFor(64));
        var kernel = OperatorCatalog.Find("gaussian-blur")!.Parameters.Single(p => p.Key == "kernel-size");
        Assert.Equal(kernel.Max, kernel.DefaultFor(256)); // 72 held to the range
        var share = OperatorCatalog.Find("random-inpainting")!.Parameters.Single(p => p.Key == "fraction-missing");
        Assert.Equal(share.Default, share.DefaultFor(256)); // a share is the same at every size

        // The run's spec is filled with the defaults for its prior's size.
        var catalog = new PriorCatalog(root);
        catalog.Register(new PriorInfo("big", "big", "256×256 test images", [3, 256, 256]), () => throw new InvalidOperationException("not loaded by Check"));
        catalog.Register(new PriorInfo("small", "small", "32×32 test images", [3, 32, 32]), () => throw new InvalidOperationException("not loaded by Check"));
        var runner = new Runner(catalog);
        var spec = ExperimentSpec.Default with { Corruption = "box-inpainting", CorruptionParameters = ExperimentSpec.Default.CorruptionParameters.Clear() };
        Assert.Equal(128, runner.Check(spec with { Prior = "big" }).Plan!.Spec.CorruptionParameters["box-size"]);
        Assert.Equal(16, runner.Check(spec with { Prior = "small" }).Plan!.Spec.CorruptionParameters["box-size"]);
    }
}
