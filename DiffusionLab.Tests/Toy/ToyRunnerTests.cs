using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Toy;
using DiffusionLab.Web.Features.Toy;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Toy;

/// <summary>The 2-D lab's engine side: its spec's limits, the batch of particles, and the distance it reports.</summary>
public class ToyRunnerTests
{
    static readonly ToyMeasurement ObserveX1 = new(ToyMeasurementKind.ObserveX1, Y: 1.5, SigmaY: 0.2);

    [Fact]
    public void Presets_come_from_the_engines_own_mixtures()
    {
        var ring = ToySpec.PresetComponents("ring");
        Assert.Equal(8, ring.Count);
        Assert.All(ring, c => Assert.Equal(2.5, Math.Sqrt(c.X * c.X + c.Y * c.Y), 6));
        Assert.All(ring, c => Assert.Equal(0.25, c.StandardDeviation, 9));
        Assert.Equal(25, ToySpec.PresetComponents("grid").Count);
        var two = ToySpec.PresetComponents("two-clusters");
        Assert.Equal([0.75, 0.25], two.Select(c => c.Weight));
    }

    [Fact]
    public void Validation_reports_every_problem_in_plain_words()
    {
        var tooMany = Enumerable.Range(0, 33).Select(k => new ToyComponent(1, k % 5, 0, 0.3)).ToList();
        tooMany[0] = new ToyComponent(-1, 11, 0, 0.01);
        var spec = new ToySpec(tooMany, "dps", new Dictionary<string, double> { ["zeta"] = 50, ["nonsense"] = 1 }, 0,
            ToyMeasurement.None, Particles: 2001, Seed: -1);
        var problems = spec.Validate();
        var fields = problems.Select(p => p.Field).ToHashSet();
        Assert.Superset(new HashSet<string> { "prior", "solver.zeta", "solver.nonsense", "measurement", "steps", "particles", "seed" }, fields);
        Assert.Contains(problems, p => p.Message.Contains("at most 32 components"));
        Assert.Contains(problems, p => p.Message.Contains("weight"));
        Assert.Contains(problems, p => p.Message.Contains("within ±10"));
        Assert.Contains(problems, p => p.Message.Contains("spread"));
        Assert.Contains(problems, p => p.Message.Contains("choose a measurement"));
        Assert.Contains(problems, p => p.Message.Contains("between 1 and 2000"));

        var line = ToySpec.ForPreset("ring", "ddpm", new ToyMeasurement(ToyMeasurementKind.Line, 0, 0, 30, 0));
        var lineFields = line.Validate().Select(p => p.Field).ToHashSet();
        Assert.Equal(new HashSet<string> { "measurement.a", "measurement.y", "measurement.sigmaY" }, lineFields);

        Assert.Empty(ToySpec.ForPreset("ring", "dps", ObserveX1).Validate());
        Assert.Contains((ToySpec.ForPreset("ring", "dps", ObserveX1) with { SolverId = "nope" }).Validate(), p => p.Field == "solver");
    }

    [Fact]
    public void Json_round_trips_and_malformed_text_is_a_problem_not_a_crash()
    {
        var spec = ToySpec.ForPreset("two-clusters", "dps", new ToyMeasurement(ToyMeasurementKind.Line, 1, -2, 0.5, 0.1)) with { Particles = 300, Seed = 9 };
        var (parsed, problems) = ToySpec.Parse(spec.ToJson());
        Assert.Empty(problems);
        Assert.Equal(spec.Components, parsed!.Components);
        Assert.Equal(spec.Measurement, parsed.Measurement);
        Assert.Equal(spec.Parameters.OrderBy(p => p.Key), parsed.Parameters.OrderBy(p => p.Key));
        Assert.Equal((300, 9L, spec.Steps), (parsed.Particles, parsed.Seed, parsed.Steps));

        foreach (var bad in new[] { "", "{", "[1,2]", "{\"components\": 5}", new string('x', ToySpec.MaxJsonLength + 1) })
        {
            var (none, badProblems) = ToySpec.Parse(bad);
            Assert.Null(none);
            Assert.NotEmpty(badProblems);
        }
        var (invalid, invalidProblems) = ToySpec.Parse((spec with { Particles = 5000 }).ToJson());
        Assert.Null(invalid);
        Assert.Contains(invalidProblems, p => p.Field == "particles");
    }

    [Fact]
    public void DDPM_without_a_measurement_moves_every_particle_and_ends_near_exact_prior_samples()
    {
        var spec = ToySpec.ForPreset("ring", "ddpm", ToyMeasurement.None) with { Particles = 400, Steps = 60, Seed = 3 };
        using var run = ToyRunner.Prepare(spec);
        Assert.Null(run.Posterior);
        Assert.Null(run.PriorFloor);
        var frames = ToyRunner.Run(run).ToList();

        Assert.Equal(60, frames.Count);
        Assert.Equal(Enumerable.Range(0, 60), frames.Select(f => f.Step));
        Assert.All(frames, f => Assert.Equal(800, f.Positions.Length));
        Assert.True(frames[^1].IsFinal);
        Assert.InRange(frames[^1].T, 0, 0.01);
        Assert.True(frames[0].T > 0.9, $"the first step is near pure noise, t = {frames[0].T}");
        var measured = frames.Where(f => f.Distance is not null).ToList();
        Assert.True(measured.Count >= 20, $"the distance is measured every few steps ({measured.Count} times)");
        double start = measured[0].Distance!.Value, end = frames[^1].Distance!.Value;
        // Noise N(0, I) is far from a ring of radius 2.5; the sampler ends within sampling noise of exact samples.
        Assert.True(end < start / 2, $"distance fell from {start} to {end}");
        Assert.True(end < run.ExactFloor + 0.15, $"final distance {end} against the exact-sample floor {run.ExactFloor}");
    }

    [Fact]
    public void A_posterior_sampler_beats_samples_that_ignore_y()
    {
        var spec = ToySpec.ForPreset("ring", "score-ald", ObserveX1) with { Particles = 400, Seed = 1, Parameters = new Dictionary<string, double> { ["levels"] = 60 } };
        using var run = ToyRunner.Prepare(spec);
        Assert.NotNull(run.Posterior);
        var last = ToyRunner.Run(run).Last();
        Assert.Equal(60 * 3, last.Total);
        Assert.True(last.Distance < run.PriorFloor!.Value / 2,
            $"ScoreALD's distance {last.Distance} should be well below the prior's {run.PriorFloor} (exact samples: {run.ExactFloor})");
    }

    [Fact]
    public void HQS_moves_a_single_point_toward_the_measurement()
    {
        var spec = ToySpec.ForPreset("ring", "hqs", ObserveX1) with { Particles = 1000 };
        Assert.True(spec.IsSinglePoint);
        using var run = ToyRunner.Prepare(spec);
        var frames = ToyRunner.Run(run).ToList();
        Assert.All(frames, f => Assert.Equal(2, f.Positions.Length));
        Assert.All(frames, f => Assert.Equal(0, f.T));
        // The answer agrees with x₁ = y far better than the prior's mean (0, 0) does.
        Assert.True(Math.Abs(frames[^1].Positions[0] - 1.5) < 0.5, $"x₁ = {frames[^1].Positions[0]}");
    }

    [Fact]
    public void Cancellation_stops_the_run_at_the_next_step()
    {
        var spec = ToySpec.ForPreset("grid", "ddpm", ToyMeasurement.None) with { Particles = 50, Steps = 200 };
        using var run = ToyRunner.Prepare(spec);
        using var cancellation = new CancellationTokenSource();
        int seen = 0;
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (var frame in ToyRunner.Run(run, cancellation.Token))
                if (++seen == 5) cancellation.Cancel();
        });
        Assert.Equal(5, seen);
    }

    [Fact]
    public void Pictures_match_the_closed_form_of_one_diffused_component()
    {
        // One component N(m, s² I): p_t = N(√ᾱ m, (ᾱ s² + 1 − ᾱ) I) and ∇log p_t(x) = −(x − √ᾱ m)/(ᾱ s² + 1 − ᾱ).
        var spec = new ToySpec([new ToyComponent(1, 1.5, -0.5, 0.4)], "ddpm", new Dictionary<string, double>(), 10, ToyMeasurement.None);
        using var prior = spec.CreatePrior();
        double t = 0.3, alphaBar = PlanePictures.AlphaBarAt(prior.Schedule, t);
        Assert.Equal(prior.Schedule.AlphasCumprod[299], alphaBar);
        Assert.Equal(1.0, PlanePictures.AlphaBarAt(prior.Schedule, 0));
        double variance = alphaBar * 0.16 + 1 - alphaBar, cx = Math.Sqrt(alphaBar) * 1.5, cy = Math.Sqrt(alphaBar) * -0.5;

        var grid = new PlaneGrid(-2, 2, -3, 3, 5, 7);
        var density = PlanePictures.MarginalDensity(prior, grid, alphaBar);
        for (int row = 0; row < 7; row++)
            for (int col = 0; col < 5; col++)
            {
                double x = -2 + col, y = -3 + row;
                double expected = Math.Exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * variance)) / (2 * Math.PI * variance);
                Assert.Equal(expected, density[row * 5 + col], 5);
            }

        var arrows = PlanePictures.ScoreArrows(prior, 4, alphaBar, resolution: 4);
        Assert.Equal(16 * 4, arrows.Length);
        for (int i = 0; i < arrows.Length; i += 4)
        {
            Assert.Equal(-(arrows[i] - cx) / variance, arrows[i + 2], 4);
            Assert.Equal(-(arrows[i + 1] - cy) / variance, arrows[i + 3], 4);
            Assert.InRange(Math.Abs(arrows[i]), 0.9, 3.1); // cell centres, never on the view's edge
        }
    }

    [Fact]
    public void The_posterior_density_is_the_engines_exact_posterior()
    {
        // One component and y = x₁ + n: the posterior is Gaussian with the Kalman update in x₁ alone.
        var spec = new ToySpec([new ToyComponent(1, 0, 1, 1)], "dps", new Dictionary<string, double>(), 10,
            new ToyMeasurement(ToyMeasurementKind.ObserveX1, Y: 2, SigmaY: 0.5));
        using var prior = spec.CreatePrior();
        using var posterior = spec.CreatePosterior(prior)!;
        double gain = 1 / (1 + 0.25), mean = gain * 2, variance = 1 - gain;
        var grid = new PlaneGrid(-1, 3, -1, 3, 5, 5);
        var density = PlanePictures.PosteriorDensity(posterior, grid);
        for (int row = 0; row < 5; row++)
            for (int col = 0; col < 5; col++)
            {
                double x = -1 + col, y = -1 + row;
                double expected = Math.Exp(-(x - mean) * (x - mean) / (2 * variance) - (y - 1) * (y - 1) / 2) / (2 * Math.PI * Math.Sqrt(variance));
                Assert.Equal(expected, density[row * 5 + col], 5);
            }
    }

    [Fact]
    public void Forward_particles_are_exact_prior_samples_and_standard_noise()
    {
        using var prior = GaussianMixturePresets.Plane("two-clusters");
        var (data, noise) = PlanePictures.ForwardParticles(prior, 2000, 4);
        Assert.Equal(4000, data.Length);
        // Weighted mean of the two clusters: 0.75·(−1.5, −1) + 0.25·(2, 1.5) = (−0.625, −0.375).
        Assert.InRange(data.Where((_, i) => i % 2 == 0).Average(), -0.625 - 0.1, -0.625 + 0.1);
        Assert.InRange(data.Where((_, i) => i % 2 == 1).Average(), -0.375 - 0.1, -0.375 + 0.1);
        Assert.InRange(noise.Average(), -0.05, 0.05);
        Assert.InRange(noise.Select(v => (double)v * v).Average(), 0.93, 1.07);
    }
}
