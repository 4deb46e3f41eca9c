using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class BenchBatchingVerb : Command<BenchBatchingVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--concurrency <N>")]
        [Help("DPS runs at once")]
        [DefaultValue(8)]
        public int Concurrency { get; set; } = 8;

        [CommandOption("--steps <N>")]
        [Help("steps of each run")]
        [DefaultValue(50)]
        public int Steps { get; set; } = 50;

        [CommandOption("--rounds <N>")]
        [Help("rounds of sequential-then-concurrent runs (the median is reported)")]
        [DefaultValue(3)]
        public int Rounds { get; set; } = 3;

        [CommandOption("--memory-runs <N>")]
        [Help("short runs finished before the last memory reading (at least 10)")]
        [DefaultValue(1000)]
        public int MemoryRuns { get; set; } = 1000;

        [CommandOption("--memory-steps <N>")]
        [Help("steps of each of those runs")]
        [DefaultValue(2)]
        public int MemorySteps { get; set; } = 2;

        [CommandOption("--network-only")]
        [Help("time only the guided network call (forward + backward to x_t) at batch 1 to 16, and stop")]
        public bool NetworkOnly { get; set; }

        [CommandOption("--json")]
        [Help("print the figures as JSON instead of a table")]
        public bool Json { get; set; }
    }

    sealed record BatchingFigures(
        string Prior, int Runs, int Steps,
        double SequentialStepsPerSecond, double ConcurrentStepsPerSecond, double Speedup,
        double MeanBatch, double FirstFrameMeanMs, double FirstFrameWorstMs,
        int MemoryRunsEarly, double MemoryEarlyMb, int MemoryRunsLate, double MemoryLateMb);

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        int runs = options.Concurrency;
        int steps = options.Steps;
        int memoryRuns = options.MemoryRuns;
        int memorySteps = options.MemorySteps;
        int rounds = options.Rounds;
        if (runs < 1 || steps < 1 || rounds < 1 || memoryRuns < 10 || memorySteps < 1)
            throw new CliUsageException("--concurrency, --steps, --rounds and --memory-steps must be at least 1, --memory-runs at least 10");

        var location = options.Location();
        if (!options.Json) location.Report();
        var (catalog, priorId) = BenchPrior(location);
        var runner = new Runner(catalog);
        if (options.NetworkOnly)
        {
            // The guided call alone (forward + backward to x_t) at growing batch sizes: what batching can buy at most.
            var prior = catalog.Load(priorId);
            foreach (var batch in new[] { 1, 2, 4, 8, 16 })
            {
                var watch = new Stopwatch();
                for (int repeat = 0; repeat < 6; repeat++)
                {
                    using var scope = NewDisposeScope();
                    var x = randn(batch, 3, 32, 32);
                    var t = ScalarArithmetic.Full([batch], 500L, int64, CPU);
                    if (repeat == 1) watch.Start(); // the first call warms up
                    GuidedPrediction.Direct(prior, x, t, (xt, eps) => (xt - eps).Squared().sum([1, 2, 3]));
                }
                Console.WriteLine($"batch {batch,2}: {watch.Elapsed.TotalMilliseconds / 5:0} ms per guided call, {watch.Elapsed.TotalMilliseconds / 5 / batch:0} ms per sample");
            }
            return 0;
        }
        var image = "gallery:" + catalog.Gallery(priorId)[0];
        ExperimentSpec Spec(int seed, int n) => new() { Prior = priorId, Image = image, Corruption = "box-inpainting", Solver = "dps", Steps = n, Seed = seed };
        Log($"prior {priorId}; warming up");
        RunOne(runner, Spec(99, 3), null, out _);

        // Other jobs share this machine and their load comes and goes: measure sequential and
        // concurrent in alternating rounds so both see the same weather, and report the median.
        using var scheduler = new RunScheduler();
        var sequentialRates = new List<double>();
        var concurrentRates = new List<double>();
        var firstFrames = new List<double>();
        for (int round = 0; round < rounds; round++)
        {
            Log($"round {round + 1}: {runs} DPS runs of {steps} steps, one after another");
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < runs; i++) RunOne(runner, Spec(i, steps), null, out _);
            sequentialRates.Add(runs * steps / clock.Elapsed.TotalSeconds);

            Log($"round {round + 1}: the same {runs} runs at once, batched");
            var roundFirstFrames = new double[runs];
            clock.Restart();
            var threads = Enumerable.Range(0, runs).Select(i => new Thread(() => RunOne(runner, Spec(i, steps), scheduler, out roundFirstFrames[i]))).ToArray();
            foreach (var thread in threads) thread.Start();
            foreach (var thread in threads) thread.Join();
            concurrentRates.Add(runs * steps / clock.Elapsed.TotalSeconds);
            firstFrames.AddRange(roundFirstFrames);
        }
        var speedups = sequentialRates.Zip(concurrentRates, (a, b) => b / a).ToList();
        double sequential = BenchVerb.Median(sequentialRates), concurrent = BenchVerb.Median(concurrentRates);
        var (calls, samples) = scheduler.Served;

        Log($"memory: {memoryRuns} short runs ({memorySteps} steps), {runs} at a time");
        double early = 0;
        int finished = 0, nextCheckpoint = 100;
        var checkpoints = new List<(int Runs, double Megabytes)>();
        while (finished < memoryRuns)
        {
            var wave = Enumerable.Range(finished, Math.Min(runs, memoryRuns - finished))
                .Select(i => new Thread(() => RunOne(runner, Spec(1000 + i, memorySteps), scheduler, out _))).ToArray();
            foreach (var thread in wave) thread.Start();
            foreach (var thread in wave) thread.Join();
            finished += wave.Length;
            if (early == 0 && finished >= 10) checkpoints.Add((finished, early = SettledMegabytes()));
            if (finished >= nextCheckpoint && finished < memoryRuns)
            {
                checkpoints.Add((finished, SettledMegabytes()));
                nextCheckpoint *= 2;
            }
        }
        var late = SettledMegabytes();
        checkpoints.Add((memoryRuns, late));

        var figures = new BatchingFigures(priorId, runs, steps, sequential, concurrent, BenchVerb.Median(speedups),
            calls > 0 ? samples / (double)calls : 0, firstFrames.Average(), firstFrames.Max(), 10, early, memoryRuns, late);
        if (options.Json) Console.WriteLine(JsonSerializer.Serialize(figures));
        else
        {
            var table = new Table().AddColumns("measure", "value");
            table.AddRow("sequential steps/s", $"{sequential:0.0}");
            table.AddRow($"{runs} concurrent steps/s (batched)", $"{concurrent:0.0}");
            table.AddRow("speed-up (median of rounds)", $"{figures.Speedup:0.00}× (rounds: {string.Join(", ", speedups.Select(x => x.ToString("0.00")))})");
            table.AddRow("mean samples per network call", $"{figures.MeanBatch:0.0} (each part of a split batch is a call)");
            table.AddRow("first frame, mean / worst", $"{figures.FirstFrameMeanMs:0} ms / {figures.FirstFrameWorstMs:0} ms");
            table.AddRow("resident memory after 10 runs", $"{early:0} MB");
            table.AddRow($"resident memory after {memoryRuns} runs", $"{late:0} MB ({late - early:+0;-0} MB)");
            table.AddRow("resident memory along the way", string.Join(", ", checkpoints.Select(c => $"{c.Runs}: {c.Megabytes:0} MB")));
            AnsiConsole.Write(table);
        }
        return 0;

        void Log(string message)
        {
            if (!options.Json) AnsiConsole.MarkupLineInterpolated($"[grey]{message}[/]");
        }
    }

    /// <summary>
    /// One run as the web lab does it: prepare, then every step becomes a frame (two PNGs). Returns
    /// the time from starting to the first frame.
    /// </summary>
    static void RunOne(Runner runner, ExperimentSpec spec, RunScheduler? scheduler, out double firstFrameMs)
    {
        var clock = Stopwatch.StartNew();
        firstFrameMs = double.NaN;
        using var prepared = runner.Prepare(spec);
        FrameEncoder.Encode(prepared.GroundTruth);
        FrameEncoder.Encode(prepared.MeasurementPicture);
        foreach (var step in runner.Run(prepared, default, scheduler, "bench-" + spec.Seed))
        {
            _ = step.Encoded(); // both PNGs, as the lab's encoder makes them
            if (double.IsNaN(firstFrameMs)) firstFrameMs = clock.Elapsed.TotalMilliseconds;
        }
    }

    static double SettledMegabytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = Process.GetCurrentProcess();
        return self.WorkingSet64 / 1024.0 / 1024.0;
    }

    /// <summary>
    /// The default prior when its checkpoint is in models/; otherwise a UNet of the same
    /// architecture with untrained weights (the arithmetic, and so the timing, is the same).
    /// </summary>
    static (PriorCatalog Catalog, string PriorId) BenchPrior(ModelsLocation location)
    {
        var catalog = location.Priors();
        if (catalog.Find(ExperimentSpec.DefaultPrior) is not null && catalog.Gallery(ExperimentSpec.DefaultPrior).Count > 0)
            return (catalog, ExperimentSpec.DefaultPrior);
        var gallery = Directory.CreateTempSubdirectory("bench-gallery-").FullName;
        const string id = "untrained-small32";
        Directory.CreateDirectory(Path.Combine(gallery, id));
        using (var image = rand([3, 32, 32], generator: new Generator(7)).Times(2).Minus(1))
            File.WriteAllBytes(Path.Combine(gallery, id, "0.png"), FrameEncoder.Encode(image));
        var standIn = new PriorCatalog(gallery);
        standIn.Register(new PriorInfo(id, id, "untrained UNet, Small32 architecture", [3, 32, 32]), () =>
        {
            var net = new UNet(UNetConfig.Small32, NoiseSchedule.Linear(1000), id);
            net.eval();
            return net;
        });
        return (standIn, id);
    }
}
