using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

/// <summary>Runs alone: its collector thread would slow every test running beside it.</summary>
[CollectionDefinition(nameof(ScalarLifetimeStressTests), DisableParallelization = true)]
public sealed class ScalarLifetimeStressCollection;

/// <summary>
/// TorchSharp turns a number in tensor arithmetic into a native Scalar that only its finalizer
/// frees. If nothing keeps it alive, a garbage collection during the native call frees it while
/// libtorch still reads it ("Unknown scalar type", "Expected false to be true", or wrong numbers).
/// Here a second thread collects and runs finalizers nonstop while the solvers step, which turns
/// that rare race into one that shows up within a few hundred steps if any engine code has it
/// (on the engine before ScalarArithmetic it failed 4 runs of 4, several solvers each time).
/// Generation-0 collections: the lost Scalars are young, and quick collections come often enough
/// to land inside a native call.
/// </summary>
[Collection(nameof(ScalarLifetimeStressTests))]
public class ScalarLifetimeStressTests
{
    // Large enough that each native call lasts a while, which widens the window for the race.
    const int Batch = 1024;

    [Fact]
    public void Solvers_finish_with_finite_results_while_the_collector_runs_nonstop()
    {
        using var ring = GaussianMixturePresets.Ring();
        using var firstCoordinate = new MatrixMeasurement(tensor(new float[] { 1, 0 }, [1, 2]), [2], "matrix");
        using var ringY = full([Batch, 1], 1.0f.ToScalar());
        using var image = GaussianMixturePresets.ImageDemo(size: 8);
        var blur = new GaussianBlur(image.SampleShape, 3, 1.0);
        using var generator = new Generator(11);
        using var clean = image.Sample(4, generator);
        using var blurredY = blur.Forward(clean);

        var runs = new (string Name, ISolver Solver, SolverContext Context)[]
        {
            ("DDPM", new Ddpm(), new SolverContext(ring, null, null, NoiseModel.Gaussian(0), 60, Batch, generator)),
            ("DDIM η=1", new Ddim(1), new SolverContext(ring, null, null, NoiseModel.Gaussian(0), 60, Batch, generator)),
            ("DPS on a coordinate", new Dps(0.5, true), new SolverContext(ring, firstCoordinate, ringY, NoiseModel.Gaussian(0.05), 60, Batch, generator)),
            ("Score-ALD on a coordinate", new ScoreAld(20, 3, 5e-5), new SolverContext(ring, firstCoordinate, ringY, NoiseModel.Gaussian(0.05), 0, Batch, generator)),
            ("DPS on a blur", new Dps(1.0, false), new SolverContext(image, blur, blurredY, NoiseModel.Gaussian(0.05), 40, 4, generator)),
        };

        using var stop = new CancellationTokenSource();
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                GC.Collect(0);
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true };
        collector.Start();
        var failures = new List<string>();
        try
        {
            // Several rounds: the first runs the JIT's unoptimised code, which keeps temporaries alive to the
            // end of each method and hides the race; the failures came once the optimised code took over.
            for (int round = 0; round < 3; round++)
                foreach (var (name, solver, context) in runs)
                {
                    try
                    {
                        foreach (var step in solver.Solve(context))
                            if (step.IsFinal && !AllFinite(step.X0Hat))
                                failures.Add($"{name}, round {round}: the final estimate has non-finite entries");
                    }
                    catch (Exception error)
                    {
                        failures.Add($"{name}, round {round}: {error.GetType().Name}: {error.Message.Split('\n')[0]} at {string.Join(" < ", (error.StackTrace ?? "").Split('\n').Take(4).Select(l => l.Trim()))}");
                    }
                }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    static bool AllFinite(Tensor x)
    {
        using var finite = x.isfinite().all();
        return finite.item<bool>();
    }
}
