using DiffusionLab.Engine.Solvers;
using static DiffusionLab.Tests.Solvers.ClassicalProblems;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

public class ConjugateGradientTests
{
    [Fact]
    public void Data_step_matches_a_dense_solve_for_every_sample()
    {
        using var scope = NewDisposeScope();
        const double sigmaY = 0.1, mu = 0.7;
        var (a, _) = RandomMatrixProblem([2, 5], m: 6, batch: 1, sigmaY, seed: 11);
        using var _a = a;
        using var generator = new Generator(12);
        var rhs = randn([3, 2, 5], generator: generator);

        var solved = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, initialGuess: null, maxIterations: 100);

        var matrix = a.Matrix.to(float64);
        var system = matrix.t().matmul(matrix) / (sigmaY * sigmaY) + mu * eye(10, dtype: float64);
        var exact = linalg.solve(system, rhs.to(float64).flatten(1).t()).t();
        Assert.True(RelativeError(solved.Solution, exact) < 1e-5, $"relative error {RelativeError(solved.Solution, exact)}");
        Assert.Equal([3, 2, 5], solved.Solution.shape);
        Assert.All(solved.RelativeResiduals, r => Assert.True(r <= ConjugateGradient.DefaultTolerance));
        // In exact arithmetic CG needs at most d = 10 steps; float32 may need a couple more.
        Assert.All(solved.Iterations, n => Assert.InRange(n, 1, 14));
    }

    [Fact]
    public void Each_sample_converges_on_its_own()
    {
        using var scope = NewDisposeScope();
        const double sigmaY = 0.2, mu = 1.5;
        var (a, _) = RandomMatrixProblem([8], m: 5, batch: 1, sigmaY, seed: 21);
        using var _a = a;
        using var generator = new Generator(22);
        var rhs = randn([3, 8], generator: generator);
        rhs[1] = zeros(8); // the zero system is solved by the zero start: no iteration at all

        var batched = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, null, maxIterations: 50);
        var alone = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs[2..3], null, maxIterations: 50);

        Assert.Equal(0, batched.Iterations[1]);
        Assert.Equal(0.0, batched.Solution[1].abs().max().item<float>());
        Assert.Equal(alone.Iterations[0], batched.Iterations[2]);
        Assert.True(RelativeError(batched.Solution[2..3], alone.Solution) < 1e-6);
    }

    [Fact]
    public void A_warm_start_at_the_solution_takes_no_step_and_the_cap_is_respected()
    {
        using var scope = NewDisposeScope();
        const double sigmaY = 0.05, mu = 0.01;
        var (a, _) = RandomMatrixProblem([12], m: 12, batch: 1, sigmaY, seed: 31);
        using var _a = a;
        using var generator = new Generator(32);
        var rhs = randn([2, 12], generator: generator);

        var capped = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, null, maxIterations: 2);
        Assert.All(capped.Iterations, n => Assert.Equal(2, n));
        Assert.All(capped.RelativeResiduals, r => Assert.True(r > ConjugateGradient.DefaultTolerance));

        var full = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, null, maxIterations: 200);
        var restarted = ConjugateGradient.SolveDataStep(a, sigmaY, mu, rhs, full.Solution, maxIterations: 200, tolerance: 1e-3);
        Assert.All(restarted.Iterations, n => Assert.Equal(0, n));
    }

    [Fact]
    public void Solving_leaves_no_tensor_behind()
    {
        const double sigmaY = 0.1;
        var (a, y) = RandomMatrixProblem([6], m: 4, batch: 2, sigmaY, seed: 41);
        using var _a = a;
        using var _y = y;
        using var rhs = a.Adjoint(y);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var solved = ConjugateGradient.SolveDataStep(a, sigmaY, 0.5, rhs, rhs, maxIterations: 20);
        solved.Solution.Dispose();
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
