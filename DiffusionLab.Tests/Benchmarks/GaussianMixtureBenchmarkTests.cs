using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Benchmarks;

/// <summary>The benchmark runs the protocol its docs describe: 1 000 directions, classical solvers scored on z, an exact-samples row.</summary>
public class GaussianMixtureBenchmarkTests
{
    [Fact]
    public void Hqs_and_admm_are_scored_on_their_answer_z_along_a_thousand_directions()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 4, dy: 2, seed: 5);
        var classical = ClassicalSolverCatalog.Entries.ToList();
        const int samples = 20, steps = 15, referenceCount = 500;
        var rows = benchmark.Run(classical, samples, steps, referenceCount).ToList();

        // The same reference and directions, drawn from the problem's stream in the documented order.
        using var stream = new Generator(RunSeeds.Problem(benchmark.Seed));
        using var reference = benchmark.Posterior.Sample(referenceCount, stream);
        using var directions = SlicedWasserstein.Directions(benchmark.Dx, 1000, stream);
        foreach (var descriptor in classical)
        {
            var solver = descriptor.Create(descriptor.DefaultsFor(GaussianMixtureBenchmark.CorruptionId));
            using var z = benchmark.Solve(solver, samples, steps, benchmark.Seed, answerIsEstimate: true);
            using var x = benchmark.Solve(solver, samples, steps, benchmark.Seed);
            double expected = SlicedWasserstein.Distance(z, reference, directions);
            Assert.Equal(expected, rows.Single(r => r.Solver == descriptor.Id).Sw, 10);
            Assert.NotEqual(SlicedWasserstein.Distance(x, reference, directions), expected, 6);
        }
    }

    [Fact]
    public void The_exact_samples_row_comes_first_and_sits_far_below_the_prior_floor()
    {
        using var benchmark = GaussianMixtureBenchmark.Create(dx: 8, dy: 1, seed: 11);
        var rows = benchmark.Run([], samples: 400, steps: 1, referenceCount: 2000).ToList();
        Assert.Equal([GaussianMixtureBenchmark.ExactSamplesId, GaussianMixtureBenchmark.PriorFloorId], rows.Select(r => r.Solver));
        double exact = rows[0].Sw, floor = rows[1].Sw;
        Assert.True(exact > 0, "a finite sample set is never at distance 0 from another");
        Assert.True(exact < 0.2 * floor, $"exact samples {exact:0.00} against the prior floor {floor:0.00}");
    }
}
