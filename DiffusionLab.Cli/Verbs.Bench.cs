using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.ComponentModel;
using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Experiments;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using Spectre.Console;
using Spectre.Console.Cli;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class BenchVerb : Command<BenchVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--repeats <N>")]
        [Help("timed repeats of each measure (at least 3); the table shows medians")]
        [DefaultValue(20)]
        public int Repeats { get; set; } = 20;

        [CommandOption("--batch <LIST>")]
        [Help("batch sizes, comma-separated")]
        [DefaultValue("1,8")]
        public string Batch { get; set; } = "1,8";

        [CommandOption("--json")]
        [Help("print the figures as JSON instead of a table")]
        public bool Json { get; set; }
    }

    sealed record BenchRow(string Model, int Batch, double ForwardMs, double DpsGradientMs, double DdpmStepMs, double DpsStepMs,
        double DdpmOverhead, double DpsOverhead, double ForwardGflops, double GflopsPerSecond, double CeilingGflopsPerSecond,
        double? Dps250Seconds, double? Ddim50Seconds);

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        int repeats = options.Repeats;
        var batches = CliValues.IntList(options.Batch, "--batch");
        if (repeats < 3) throw new CliUsageException("--repeats must be at least 3");
        var location = options.Location();
        if (!options.Json) location.Report();
        var models = location.Catalog().List().Where(e => e.Problem is null && e.Card is not null).ToList();

        var priors = new List<(string Name, UNet Net)>();
        foreach (var m in models) priors.Add((m.Name, Checkpoints.Load(m.CardPath)));
        if (priors.Count == 0)
        {
            // Timings do not depend on the weights: measure the default architecture untrained.
            priors.Add(("small32 (untrained, no model found)", new UNet(UNetConfig.Small32, NoiseSchedule.Linear())));
        }

        double ceiling = MatmulCeiling();
        var rows = new List<BenchRow>();
        foreach (var (name, net) in priors)
        {
            net.eval();
            double flops = ForwardFlops(net);
            foreach (int batch in batches)
            {
                if (!options.Json) AnsiConsole.MarkupLineInterpolated($"[grey]{name}, batch {batch}…[/]");
                rows.Add(Measure(name, net, batch, repeats, flops, ceiling));
            }
            net.Dispose();
        }

        if (options.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(rows, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return 0;
        }
        // One column per (model, batch): the table stays readable in an 80-column terminal.
        var table = new Table().AddColumn("");
        foreach (var r in rows) table.AddColumn(new TableColumn($"{r.Model}\nbatch {r.Batch}").RightAligned());
        void Row(string label, Func<BenchRow, string> cell) => table.AddRow([label, .. rows.Select(cell)]);
        Row("network forward, ms", r => F(r.ForwardMs));
        Row("forward + backward to x_t (DPS), ms", r => F(r.DpsGradientMs));
        Row("one DDPM step, ms", r => F(r.DdpmStepMs));
        Row("one DPS step, ms", r => F(r.DpsStepMs));
        Row("solver overhead, DDPM", r => P(r.DdpmOverhead));
        Row("solver overhead, DPS", r => P(r.DpsOverhead));
        Row("forward GFLOP (batch 1)", r => F(r.ForwardGflops));
        Row("achieved GFLOP/s", r => F(r.GflopsPerSecond));
        Row("matmul ceiling GFLOP/s", r => F(r.CeilingGflopsPerSecond));
        Row("250-step DPS run, s", r => r.Dps250Seconds is { } v ? F(v) : "");
        Row("50-step DDIM sample, s", r => r.Ddim50Seconds is { } v ? F(v) : "");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLineInterpolated($"{Environment.ProcessorCount} cores, {TorchRuntime.Threads} libtorch thread(s); medians of {repeats} repeats. Overhead = solver step time beyond the bare network call, as a fraction of the step.");
        return 0;

        static string F(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);
        static string P(double v) => v.ToString("0.0%", CultureInfo.InvariantCulture);
    }

    static BenchRow Measure(string name, UNet net, int batch, int repeats, double flops, double ceiling)
    {
        long[] shape = [batch, .. net.SampleShape];
        using var x = randn(shape);
        using var t = ScalarArithmetic.Full([batch], 500L, int64);

        void BareForward()
        {
            using var _ = no_grad();
            using var eps = net.PredictNoise(x, t);
        }

        void BareGradient()
        {
            using var scope = NewDisposeScope();
            var xt = x.detach().requires_grad_(true);
            var eps = net.PredictNoise(xt, t);
            var loss = eps.Squared().sum();
            _ = autograd.grad([loss], [xt])[0];
        }

        var measurement = OperatorCatalog.Find("box-inpainting")!.Create(new Dictionary<string, double>(), net.SampleShape, 0);
        using var y = measurement.Forward(x);
        // Each solver step is timed right next to a bare network call, so a noisy machine slows both alike
        // and the overhead (a ratio of the two) stays meaningful.
        var (ddpmStep, forward) = InterleavedMedians(net, "ddpm", null, null, batch, repeats, BareForward);
        var (dpsStep, gradient) = InterleavedMedians(net, "dps", measurement, y, batch, repeats, BareGradient);
        double? dps250 = batch == 1 ? FullRunSeconds(net, "dps", measurement, y, 250) : null;
        double? ddim50 = batch == 1 ? FullRunSeconds(net, "ddim", null, null, 50) : null;
        (measurement as IDisposable)?.Dispose();

        return new BenchRow(name, batch, forward, gradient, ddpmStep, dpsStep,
            Math.Max(0, (ddpmStep - forward) / ddpmStep), Math.Max(0, (dpsStep - gradient) / dpsStep),
            flops / 1e9, flops * batch / (forward / 1000) / 1e9, ceiling, dps250, ddim50);
    }

    /// <summary>Medians of one solver step and of one bare network call, timed alternately (step, bare, step, bare, …).</summary>
    static (double Step, double Bare) InterleavedMedians(IDenoiser prior, string solverId, IMeasurement? a, Tensor? y, int batch, int repeats, Action bare)
    {
        var descriptor = SolverCatalog.Find(solverId)!;
        var solver = descriptor.Create(descriptor.DefaultsFor(a?.Id));
        using var generator = new Generator(1);
        var context = new SolverContext(prior, a, y, NoiseModel.Gaussian(0.05), repeats + 3, batch, generator);
        var steps = new List<double>();
        var bares = new List<double>();
        using var enumerator = solver.Solve(context).GetEnumerator();
        for (int i = 0; ; i++)
        {
            var clock = Stopwatch.StartNew();
            if (!enumerator.MoveNext()) break;
            double step = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            bare();
            double bareMs = clock.Elapsed.TotalMilliseconds;
            if (i < 2) continue; // the first steps include warm-up
            steps.Add(step);
            bares.Add(bareMs);
        }
        return (Median(steps), Median(bares));
    }

    static double FullRunSeconds(IDenoiser prior, string solverId, IMeasurement? a, Tensor? y, int steps)
    {
        var descriptor = SolverCatalog.Find(solverId)!;
        var solver = descriptor.Create(descriptor.DefaultsFor(a?.Id));
        using var generator = new Generator(2);
        var clock = Stopwatch.StartNew();
        foreach (var _ in solver.Solve(new SolverContext(prior, a, y, NoiseModel.Gaussian(0.05), steps, 1, generator))) { }
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>Multiply-add count of one forward at batch 1: 2·MACs of every convolution and linear layer, measured with forward hooks.</summary>
    static double ForwardFlops(UNet net)
    {
        double flops = 0;
        var removers = new List<Action>();
        foreach (var (_, module) in net.named_modules())
        {
            switch (module)
            {
                case TorchSharp.Modules.Conv2d conv:
                    var convHook = conv.register_forward_hook((m, input, output) =>
                    {
                        var w = conv.weight!;
                        flops += 2.0 * output.numel() * w.shape[1] * w.shape[2] * w.shape[3];
                        return output;
                    });
                    removers.Add(convHook.remove);
                    break;
                case TorchSharp.Modules.Linear linear:
                    var linearHook = linear.register_forward_hook((m, input, output) =>
                    {
                        flops += 2.0 * output.numel() * linear.weight!.shape[1];
                        return output;
                    });
                    removers.Add(linearHook.remove);
                    break;
            }
        }
        using (no_grad())
        using (var x = randn([1, .. net.SampleShape]))
        using (var t = ScalarArithmetic.Full([1], 500L, int64))
        using (var eps = net.PredictNoise(x, t)) { }
        foreach (var remove in removers) remove();
        return flops;
    }

    /// <summary>GFLOP/s of a large single-precision matrix multiply with the same thread setting: what this CPU can do at best.</summary>
    static double MatmulCeiling()
    {
        const int n = 1024;
        using var a = randn(n, n);
        using var b = randn(n, n);
        double ms = Median(7, () => { using var c = a.mm(b); });
        return 2.0 * n * n * n / (ms / 1000) / 1e9;
    }

    static double Median(int repeats, Action action)
    {
        action(); // warm-up
        var times = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return Median(times);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
