using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Solvers.Regularizers;
using static DiffusionLab.Tests.Solvers.ClassicalProblems;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Solvers;

public class SplittingSolverTests
{
    const double SigmaY = 0.1;

    /// <summary>
    /// The inner solves bound how close the outer iterates can get (the default 1e-6 of ‖rhs‖ leaves
    /// ~1e-4 relative error on these float32 problems); the MAP tests ask for more.
    /// </summary>
    const double TightCg = 1e-8;

    /// <summary>Runs a solver to the end and keeps clones of the last step's answer and every step's numbers.</summary>
    static (Tensor Answer, Tensor DataHalf, List<SolverStep> Steps) Run(ISolver solver, SolverContext context)
    {
        var steps = new List<SolverStep>();
        Tensor? answer = null, dataHalf = null;
        foreach (var step in solver.Solve(context))
        {
            steps.Add(step);
            if (step.IsFinal)
            {
                answer = step.X0Hat.clone();
                dataHalf = step.Xt.clone();
            }
        }
        return (answer!, dataHalf!, steps);
    }

    [Fact]
    public void Admm_with_tikhonov_reaches_the_closed_form_map()
    {
        // R(x) = ½‖x‖², so the MAP of ½σ⁻²‖y − Ax‖² + λR(x) is (AᵀA/σ² + λI)⁻¹Aᵀy/σ².
        // A has fewer rows than columns, so the prior decides the unobserved directions.
        using var scope = NewDisposeScope();
        const double lambda = 0.8;
        var (a, y) = RandomMatrixProblem([2, 4], m: 5, batch: 3, SigmaY, seed: 101);
        using var _a = a;
        using var generator = new Generator(0);
        var map = QuadraticMap(a, y, SigmaY, lambda, eye(8));

        var solver = new Admm(_ => new Tikhonov(TikhonovCentre.Zero), lambda, rho: 2, cgIterations: 50, cgTolerance: TightCg);
        var (answer, dataHalf, steps) = Run(solver, Context(new IsotropicGaussianPrior([2, 4], 1), a, y, SigmaY, 150, generator));

        Assert.True(RelativeError(answer, map) < 2e-5, $"relative error {RelativeError(answer, map)}");
        Assert.True(RelativeError(dataHalf, map) < 2e-5, "x and z agree at convergence");
        Assert.Equal(150, steps.Count);
        Assert.All(steps, s => Assert.Equal(-1, s.Timestep));
        Assert.All(steps, s => Assert.Equal(0, s.NetworkEvaluations));
    }

    [Fact]
    public void Admm_with_tikhonov_around_the_mean_colour_reaches_its_closed_form_map()
    {
        // R(x) = ½‖x − mean_c(x)‖² = ½ xᵀ(I − P)x with P averaging each channel: MAP = (AᵀA/σ² + λ(I − P))⁻¹Aᵀy/σ².
        using var scope = NewDisposeScope();
        const double lambda = 1.5;
        var (a, y) = RandomMatrixProblem([2, 2, 3], m: 10, batch: 2, SigmaY, seed: 102);
        using var _a = a;
        using var generator = new Generator(0);
        var averaging = block_diag(full(6, 6, 1.0 / 6), full(6, 6, 1.0 / 6));
        var map = QuadraticMap(a, y, SigmaY, lambda, eye(12) - averaging);

        var solver = new Admm(_ => new Tikhonov(TikhonovCentre.ChannelMean), lambda, rho: 3, cgIterations: 50, cgTolerance: TightCg);
        var (answer, _, _) = Run(solver, Context(new IsotropicGaussianPrior([2, 2, 3], 1), a, y, SigmaY, 150, generator));

        Assert.True(RelativeError(answer, map) < 2e-5, $"relative error {RelativeError(answer, map)}");
    }

    [Fact]
    public void Admm_objective_settles_on_the_minimum_and_never_goes_below_it()
    {
        using var scope = NewDisposeScope();
        const double lambda = 0.8;
        var (a, y) = RandomMatrixProblem([6], m: 4, batch: 2, SigmaY, seed: 103);
        using var _a = a;
        using var generator = new Generator(0);
        var map = QuadraticMap(a, y, SigmaY, lambda, eye(6));
        var misfit = (y.to(float64) - map.matmul(a.Matrix.to(float64).t())).square().sum(1);
        var minimum = (misfit * (0.5 / (SigmaY * SigmaY)) + lambda * 0.5 * map.square().sum(1)).data<double>().ToArray();
        var minimumResidual = misfit.sqrt().data<double>().ToArray();

        var solver = new Admm(_ => new Tikhonov(TikhonovCentre.Zero), lambda, rho: 2, cgIterations: 50, cgTolerance: TightCg);
        var (_, _, steps) = Run(solver, Context(new IsotropicGaussianPrior([6], 1), a, y, SigmaY, 120, generator));

        for (int b = 0; b < 2; b++)
        {
            Assert.All(steps, s => Assert.True(s.Objective![b] >= minimum[b] * (1 - 1e-5), $"objective {s.Objective![b]} below the minimum {minimum[b]}"));
            Assert.Equal(minimum[b], steps[^1].Objective![b], minimum[b] * 1e-5);
            // The residual is first order in the iterate's error (the objective second order) and cancels in float32.
            Assert.Equal(minimumResidual[b], steps[^1].Residual[b], minimumResidual[b] * 2e-3);
        }
    }

    [Fact]
    public void Hqs_with_tikhonov_lands_on_the_map_within_its_penalty_bias_which_shrinks_with_slower_growth()
    {
        // HQS is a penalty method (see Hqs' remarks): with geometric growth it stops within a
        // fraction of order (growth − 1) of the optimum, so slower growth must land closer.
        using var scope = NewDisposeScope();
        const double lambda = 0.8, mu0 = 1e-3;
        var (a, y) = RandomMatrixProblem([8], m: 5, batch: 2, SigmaY, seed: 104);
        using var _a = a;
        using var generator = new Generator(0);
        var map = QuadraticMap(a, y, SigmaY, lambda, eye(8));
        var prior = new IsotropicGaussianPrior([8], 1);

        double ErrorWithGrowth(double growth)
        {
            int steps = (int)Math.Ceiling(Math.Log(1e7 / mu0) / Math.Log(growth)); // until μ ≈ 1e7
            var solver = new Hqs(_ => new Tikhonov(TikhonovCentre.Zero), lambda, mu0, growth, cgIterations: 50, cgTolerance: TightCg);
            return RelativeError(Run(solver, Context(prior, a, y, SigmaY, steps, generator)).Answer, map);
        }

        double fast = ErrorWithGrowth(1.5), slow = ErrorWithGrowth(1.05);
        Assert.True(slow < 1e-3, $"growth 1.05: relative error {slow}");
        Assert.True(slow < fast / 3, $"growth 1.05 error {slow} vs growth 1.5 error {fast}");
    }

    [Fact]
    public void Hqs_follows_the_recursion_of_math_md_exactly()
    {
        // Replays x ← (AᵀA/σ² + μ_k I)⁻¹(Aᵀy/σ² + μ_k z), z ← x/(1 + λ/μ_k) with dense float64 solves.
        using var scope = NewDisposeScope();
        const double lambda = 0.5, mu0 = 0.1, growth = 1.4;
        var (a, y) = RandomMatrixProblem([6], m: 4, batch: 2, SigmaY, seed: 105);
        using var _a = a;
        using var generator = new Generator(0);
        var solver = new Hqs(_ => new Tikhonov(TikhonovCentre.Zero), lambda, mu0, growth, cgIterations: 50, cgTolerance: TightCg);
        var (answer, dataHalf, _) = Run(solver, Context(new IsotropicGaussianPrior([6], 1), a, y, SigmaY, 12, generator));

        var matrix = a.Matrix.to(float64);
        var adjointY = y.to(float64).matmul(matrix) / (SigmaY * SigmaY);
        var z = y.to(float64).matmul(linalg.pinv(matrix).t()); // the back-projection A⁺y
        var x = z;
        for (int k = 0; k < 12; k++)
        {
            double mu = mu0 * Math.Pow(growth, k);
            var system = matrix.t().matmul(matrix) / (SigmaY * SigmaY) + mu * eye(6, dtype: float64);
            x = linalg.solve(system, (adjointY + mu * z).t()).t();
            z = x / (1 + lambda / mu);
        }
        // float32 iterates against a float64 replay: agreement to ~1e-5 is all the arithmetic allows.
        Assert.True(RelativeError(answer, z) < 1e-4, $"z: relative error {RelativeError(answer, z)}");
        Assert.True(RelativeError(dataHalf, x) < 1e-4, $"x: relative error {RelativeError(dataHalf, x)}");
    }

    [Fact]
    public void Plug_and_play_admm_with_an_exact_gaussian_denoiser_reaches_the_gaussian_map()
    {
        // For the prior N(0, s²I) the plug-and-play step is exactly the prox of (λ/ρ)·‖x‖²/(2s²) when
        // √(λ/ρ) is one of the schedule's noise levels, so ADMM must reach (AᵀA/σ² + I/s²)⁻¹Aᵀy/σ².
        using var scope = NewDisposeScope();
        const double variance = 0.5;
        var (a, y) = RandomMatrixProblem([2, 3], m: 4, batch: 2, SigmaY, seed: 106);
        using var _a = a;
        using var generator = new Generator(0);
        var prior = new IsotropicGaussianPrior([2, 3], variance);
        double level = new DiffusionDenoiser(prior).NoiseLevel(200);
        var map = QuadraticMap(a, y, SigmaY, 1 / variance, eye(6));

        var solver = new Admm(RegularizerFactory.For(RegularizerKind.PlugAndPlayDiffusion), lambda: 1, rho: 1 / (level * level), cgIterations: 50, cgTolerance: TightCg);
        var (answer, _, steps) = Run(solver, Context(prior, a, y, SigmaY, 150, generator));

        Assert.True(RelativeError(answer, map) < 2e-5, $"relative error {RelativeError(answer, map)}");
        Assert.Equal(Enumerable.Range(1, 150), steps.Select(s => s.NetworkEvaluations));
        Assert.Equal(150, prior.Calls);
        Assert.All(steps, s => Assert.Null(s.Objective));
    }

    [Fact]
    public void Plug_and_play_hqs_counts_one_network_call_per_iteration_and_fits_y()
    {
        using var scope = NewDisposeScope();
        var (a, y) = RandomMatrixProblem([4], m: 4, batch: 1, SigmaY, seed: 107);
        using var _a = a;
        using var generator = new Generator(0);
        var prior = new IsotropicGaussianPrior([4], 1);
        var solver = new Hqs(RegularizerFactory.For(RegularizerKind.PlugAndPlayDiffusion), lambda: 1, mu0: 4, growth: 1.3, cgIterations: 30);
        var (_, _, steps) = Run(solver, Context(prior, a, y, SigmaY, 25, generator));
        Assert.Equal(25, steps[^1].NetworkEvaluations);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Residual[0])));
        // With the prior's N(0, I) the MAP's residual is below ‖y‖: the answer explains y.
        Assert.True(steps[^1].Residual[0] < y.norm().item<float>());
    }

    [Theory]
    [InlineData("hqs")]
    [InlineData("admm")]
    public void Under_poisson_noise_the_reported_residual_is_the_noise_models_residual_of_the_answer(string id)
    {
        // The diffusion solvers report the noise model's ‖y − A x̂0‖ (for Poisson, each count
        // weighed by its variance); a splitting solver must report the same quantity, or one chart
        // would show two different things.
        using var scope = NewDisposeScope();
        var (a, _) = RandomMatrixProblem([6], m: 5, batch: 2, SigmaY, seed: 110);
        using var _a = a;
        using var generator = new Generator(3);
        var poisson = NoiseModel.Poisson(rate: 50);
        var x0 = rand([2, 6], generator: generator) * 1.6 - 0.8;
        var y = poisson.Apply(a.Forward(x0), generator);
        ISolver solver = id == "hqs"
            ? new Hqs(_ => new Tikhonov(TikhonovCentre.Zero), lambda: 0.5, mu0: 1, growth: 1.2, cgIterations: 30)
            : new Admm(_ => new Tikhonov(TikhonovCentre.Zero), lambda: 0.5, rho: 1, cgIterations: 30);
        var context = new SolverContext(new IsotropicGaussianPrior([6], 1), a, y, poisson, 12, 2, generator);
        foreach (var step in solver.Solve(context))
        {
            var expected = poisson.ResidualNorm(y, a.Forward(step.X0Hat)).to(float64).data<double>().ToArray();
            Assert.Equal(expected, step.Residual);
            var plain = (y - a.Forward(step.X0Hat)).norm(1).to(float64).data<double>().ToArray();
            for (int b = 0; b < 2; b++)
                Assert.True(Math.Abs(step.Residual[b] - plain[b]) > 0.5 * plain[b],
                    $"the Poisson residual {step.Residual[b]} should differ from the plain norm {plain[b]} (the weights are about rate / 2 per count)");
        }
    }

    [Theory]
    [InlineData("hqs")]
    [InlineData("admm")]
    public void A_nonlinear_corruption_is_refused_in_plain_words(string id)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator(0);
        var corruption = new SquaringMeasurement([4]);
        var y = ones(1, 4);
        ISolver solver = id == "hqs"
            ? new Hqs(_ => new Tikhonov(), 1, 1, 1.2, 10)
            : new Admm(_ => new Tikhonov(), 1, 1, 10);
        var error = Assert.Throws<SolverException>(() => solver.Solve(Context(new IsotropicGaussianPrior([4], 1), corruption, y, SigmaY, 5, generator)).ToList());
        Assert.Contains("nonlinear", error.Message);
        Assert.Contains("squaring", error.Message);
    }

    [Fact]
    public void No_measurement_is_refused_in_plain_words()
    {
        using var generator = new Generator(0);
        var context = new SolverContext(new IsotropicGaussianPrior([4], 1), null, null, Engine.Operators.NoiseModel.Gaussian(0.05), 5, 1, generator);
        var error = Assert.Throws<SolverException>(() => new Admm(_ => new Tikhonov(), 1, 1, 10).Solve(context).ToList());
        Assert.Contains("corruption", error.Message);
    }

    [Fact]
    public void Samples_of_a_batch_get_what_they_would_get_alone()
    {
        using var scope = NewDisposeScope();
        var (a, y) = RandomMatrixProblem([1, 3, 3], m: 6, batch: 3, SigmaY, seed: 108);
        using var _a = a;
        using var generator = new Generator(0);
        var prior = new IsotropicGaussianPrior([1, 3, 3], 1);
        var solver = new Admm(_ => new TotalVariation(), lambda: 2, rho: 20, cgIterations: 30);
        var together = Run(solver, Context(prior, a, y, SigmaY, 20, generator)).Answer;
        var alone = Run(solver, Context(prior, a, y[1..2], SigmaY, 20, generator)).Answer;
        Assert.True(RelativeError(together[1..2], alone) < 1e-5);
    }

    [Theory]
    [InlineData(RegularizerKind.Tikhonov)]
    [InlineData(RegularizerKind.TotalVariation)]
    [InlineData(RegularizerKind.PlugAndPlayDiffusion)]
    public void Iterating_leaves_no_tensor_behind_even_when_stopped_early(RegularizerKind kind)
    {
        var (a, y) = RandomMatrixProblem([1, 4, 4], m: 10, batch: 2, SigmaY, seed: 109);
        using var _a = a;
        using var _y = y;
        using var generator = new Generator(0);
        var prior = new IsotropicGaussianPrior([1, 4, 4], 1);
        var context = Context(prior, a, y, SigmaY, 15, generator);
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        foreach (var step in new Hqs(RegularizerFactory.For(kind), 1, 1, 1.2, 20).Solve(context)) { }
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        foreach (var step in new Admm(RegularizerFactory.For(kind), 1, 1, 20).Solve(context))
            if (step.Index == 7) break;
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
