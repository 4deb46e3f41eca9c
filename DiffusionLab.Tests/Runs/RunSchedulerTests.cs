using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Runs;

public class RunSchedulerTests
{
    const int Steps = 10;

    static UNet TinyUNet()
    {
        var net = new UNet(UNetConfig.Tiny(8), NoiseSchedule.Linear(1000), "tiny");
        net.eval();
        return net;
    }

    /// <summary>One run on the tiny UNet (noisy denoising, seeded like the Runner): its final x̂0 as floats.</summary>
    /// <param name="allJoined">When given, the run waits after its first network call (when its lane starts to
    /// count as waiting on the prior) until every run has made one, so a run that starts first cannot
    /// finish alone before the others arrive (a slow, shared CI machine).</param>
    static float[] Solve(IDenoiser prior, string solverId, int seed, RunScheduler? scheduler, string client = "class", Barrier? allJoined = null)
    {
        using var scope = NewDisposeScope();
        var spec = new ExperimentSpec { Corruption = "denoise", Solver = solverId, Steps = Steps, Seed = seed }.WithDefaults();
        var measurement = OperatorCatalog.Find("denoise")!.Create(spec.CorruptionParameters, prior.SampleShape, seed);
        using var imageStream = new Generator(1234);
        var x0 = (rand([1, .. prior.SampleShape], generator: imageStream) * 2 - 1);
        using var noiseStream = new Generator(RunSeeds.Problem(seed));
        var y = spec.NoiseModel.Apply(measurement.Forward(x0), noiseStream);
        var solver = SolverCatalog.Find(solverId)!.Create(spec.SolverParameters);
        using var solverStream = new Generator(RunSeeds.Sample(seed));
        using var lane = scheduler?.Join(prior, client);
        IDenoiser network = lane is null ? prior : allJoined is null ? lane : new AfterFirstCall(lane, allJoined);
        var context = new SolverContext(network, measurement, y, spec.NoiseModel, Steps, 1, solverStream);
        float[] last = [];
        foreach (var step in solver.Solve(context))
            if (step.IsFinal) last = step.X0Hat.detach().cpu().data<float>().ToArray();
        return last;
    }

    /// <summary>A run's prior that meets the other runs at a barrier once its first call has been served.</summary>
    sealed class AfterFirstCall(IGuidedDenoiser inner, Barrier barrier) : IGuidedDenoiser
    {
        bool met;
        public string Name => inner.Name;
        public NoiseSchedule Schedule => inner.Schedule;
        public long[] SampleShape => inner.SampleShape;
        public Device Device => inner.Device;
        public Tensor PredictNoise(Tensor xt, Tensor t) => Meet(inner.PredictNoise(xt, t));
        public GuidedPrediction PredictNoiseWithGradient(Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor> perSampleLoss) =>
            Meet(inner.PredictNoiseWithGradient(xt, t, perSampleLoss));

        T Meet<T>(T served)
        {
            if (!met) Assert.True(barrier.SignalAndWait(TimeSpan.FromSeconds(60)), "every run should make its first call");
            met = true;
            return served;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)] // each batch split in two, served on two threads
    public void ConcurrentRunsBatchedTogetherMatchEachRunAlone(int parallelism)
    {
        var prior = TinyUNet();
        var cases = new (string Solver, int Seed)[] { ("dps", 1), ("dps", 2), ("dps", 4), ("ddpm", 3) };
        var alone = cases.Select(c => Solve(prior, c.Solver, c.Seed, scheduler: null)).ToArray();

        using var scheduler = new RunScheduler(gatherWindow: TimeSpan.FromMilliseconds(500), parallelism: parallelism);
        using var allJoined = new Barrier(cases.Length);
        var together = new float[cases.Length][];
        var failures = new Exception?[cases.Length];
        var threads = cases.Select((c, i) => new Thread(() =>
        {
            try { together[i] = Solve(prior, c.Solver, c.Seed, scheduler, allJoined: allJoined); }
            catch (Exception e) { failures[i] = e; }
        })).ToArray();
        foreach (var thread in threads) thread.Start();
        foreach (var thread in threads) thread.Join();
        Assert.All(failures, Assert.Null);

        for (int i = 0; i < cases.Length; i++)
        {
            Assert.Equal(alone[i].Length, together[i].Length);
            var worst = alone[i].Zip(together[i], (a, b) => Math.Abs(a - b)).Max();
            // Float tolerance, not bitwise: a batch of three runs the convolutions with another
            // blocking than a batch of one, which changes the last bits of each step.
            Assert.True(worst < 1e-4, $"{cases[i].Solver} seed {cases[i].Seed} differs from its run alone by {worst}");
        }
        // The three DPS runs shared their guided calls: fewer network calls than steps taken.
        var (calls, samples) = scheduler.Served;
        Assert.Equal(cases.Length * Steps, samples);
        Assert.True(calls < samples, $"{calls} calls for {samples} samples: nothing was batched");
        // Different seeds really give different results (the comparison above is not vacuous).
        Assert.NotEqual(alone[0], alone[1]);
    }

    [Fact]
    public void DpsThroughTheSchedulerGetsTheSameGradientAsTheDirectPath()
    {
        var prior = TinyUNet();
        using var scheduler = new RunScheduler();
        Assert.Equal(Solve(prior, "dps", 5, null), Solve(prior, "dps", 5, scheduler)); // batch of one: same arithmetic, bitwise equal
    }

    /// <summary>Returns ε = 0 and records, per call, the marker value (first element) of every sample in the batch.</summary>
    sealed class RecordingPrior : IDenoiser
    {
        public List<float[]> Batches { get; } = [];
        public string Name => "recording";
        public NoiseSchedule Schedule { get; } = NoiseSchedule.Linear(1000);
        public long[] SampleShape => [2];
        public Device Device => CPU;

        public Tensor PredictNoise(Tensor xt, Tensor t)
        {
            lock (Batches) Batches.Add(xt[.., 0].data<float>().ToArray());
            return zeros_like(xt);
        }
    }

    [Fact]
    public void OneClientsManyRunsCannotCrowdOutAnotherClient()
    {
        var prior = new RecordingPrior();
        using var scheduler = new RunScheduler(maxBatch: 4, maxPerClient: 2, startWorker: false, parallelism: 1);
        var callers = new List<Thread>();
        void Ask(string client, float marker)
        {
            var thread = new Thread(() =>
            {
                using var lane = scheduler.Join(prior, client);
                using var x = full([1, 2], marker);
                using var t = zeros(1, int64);
                lane.PredictNoise(x, t).Dispose();
            });
            thread.Start();
            callers.Add(thread);
            SpinWait.SpinUntil(() => scheduler.PendingCount == callers.Count, TimeSpan.FromSeconds(10));
        }
        for (int i = 0; i < 6; i++) Ask("crowd", i);
        Ask("student", 100);

        Assert.True(scheduler.ServeOneBatch());
        Assert.True(scheduler.ServeOneBatch());
        Assert.False(scheduler.ServeOneBatch());
        foreach (var thread in callers) Assert.True(thread.Join(TimeSpan.FromSeconds(10)));

        // First batch: the crowd's two oldest (its share), the student although it came last, and
        // the crowd's next oldest to fill the free place. Second batch: the rest, oldest first.
        Assert.Equal([0f, 1f, 100f, 2f], prior.Batches[0]);
        Assert.Equal([3f, 4f, 5f], prior.Batches[1]);
    }

    [Fact]
    public void ABatchIsSplitIntoEvenPartsOneCallEach()
    {
        var prior = new RecordingPrior();
        using var scheduler = new RunScheduler(startWorker: false, parallelism: 2);
        var callers = Enumerable.Range(0, 5).Select(i => new Thread(() =>
        {
            using var lane = scheduler.Join(prior, "class");
            using var x = full([1, 2], (float)i);
            using var t = zeros(1, int64);
            lane.PredictNoise(x, t).Dispose();
        })).ToList();
        foreach (var caller in callers)
        {
            caller.Start();
            SpinWait.SpinUntil(() => scheduler.PendingCount == callers.IndexOf(caller) + 1, TimeSpan.FromSeconds(10));
        }
        Assert.True(scheduler.ServeOneBatch());
        foreach (var caller in callers) Assert.True(caller.Join(TimeSpan.FromSeconds(10)));

        // Five requests, two parts: three samples and two, each request served exactly once.
        Assert.Equal(2, prior.Batches.Count);
        Assert.Equal([2, 3], prior.Batches.Select(b => b.Length).Order());
        Assert.Equal([0f, 1f, 2f, 3f, 4f], prior.Batches.SelectMany(b => b).Order());
        Assert.Equal((2L, 5L), scheduler.Served);
    }

    [Fact]
    public void AFailingLossFailsOnlyItsOwnRun()
    {
        var prior = TinyUNet();
        using var scheduler = new RunScheduler(startWorker: false, parallelism: 1); // both in one backward pass
        Exception? failure = null;
        Tensor? good = null;
        var bad = new Thread(() =>
        {
            using var lane = scheduler.Join(prior, "a");
            using var x = randn(1, 3, 8, 8);
            using var t = full(1, 500L, int64);
            try { lane.PredictNoiseWithGradient(x, t, (_, _) => throw new InvalidOperationException("broken loss")); }
            catch (Exception e) { failure = e; }
        });
        var fine = new Thread(() =>
        {
            using var lane = scheduler.Join(prior, "b");
            using var x = randn(1, 3, 8, 8);
            using var t = full(1, 500L, int64);
            var result = lane.PredictNoiseWithGradient(x, t, (xt, eps) => (xt - eps).square().sum([1, 2, 3]));
            good = result.Gradient.clone().DetachFromDisposeScope();
        });
        bad.Start();
        SpinWait.SpinUntil(() => scheduler.PendingCount == 1, TimeSpan.FromSeconds(10));
        fine.Start();
        SpinWait.SpinUntil(() => scheduler.PendingCount == 2, TimeSpan.FromSeconds(10));
        Assert.True(scheduler.ServeOneBatch());
        bad.Join();
        fine.Join();
        Assert.Contains("broken loss", failure?.InnerException?.Message ?? failure?.Message);
        Assert.NotNull(good);
        Assert.True(good!.isfinite().all().item<bool>() && good.abs().sum().item<float>() > 0);
    }
}
