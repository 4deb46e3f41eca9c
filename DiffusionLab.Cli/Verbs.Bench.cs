using DiffusionLab.Engine;
using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
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

        [CommandOption("--model <NAME>")]
        [Help("only this model of the models folder (default: every one)")]
        public string? Model { get; set; }

        [CommandOption("--quick")]
        [Help("3 repeats, batch 1, no full runs: checks that it works, in seconds; not figures to quote")]
        public bool Quick { get; set; }

        [CommandOption("--json")]
        [Help("print the figures as JSON instead of a table")]
        public bool Json { get; set; }

        [CommandOption("--flags <FILE>")]
        [Help("time an untrained ADM UNet built from these guided-diffusion flags (DPS's configs/model_config.yaml for ffhq_10m.pt) instead of the models: " +
              "forward, DPS's forward + backward, DPS steps, and the 1000-step DPS run projected from them (a few calls only: a 256×256 call takes seconds on a CPU)")]
        public string? Flags { get; set; }

        [CommandOption("--markdown <FILE>")]
        [Help("also write the table and how it was measured to this markdown file (e.g. docs/performance-bench.md)")]
        public string? Markdown { get; set; }
    }

    sealed record BenchRow(string Model, int Batch, double ForwardMs, double DpsGradientMs, double DdpmStepMs, double DpsStepMs,
        double DdpmOverhead, double DpsOverhead, double ForwardGflops, double GflopsPerSecond,
        double ConvGflopsPerSecond, double MatmulGflopsPerSecond, double? Dps250Seconds, double? Ddim50Seconds,
        double? CsgmVaeStepMs, double? CsgmGanStepMs, double? CsgmToDpsStep);

    /// <summary>The convolution of a network that does the most arithmetic, with the matrix product it amounts to (im2col).</summary>
    /// <param name="InputShape">Its input at batch 1.</param>
    /// <param name="WeightShape">[out channels, in channels per group, kernel height, kernel width].</param>
    /// <param name="Flops">Its FLOPs at batch 1.</param>
    /// <param name="Rows">Output pixels at batch 1 (the product's rows per sample).</param>
    sealed record HeaviestConv(TorchSharp.Modules.Conv2d Module, long[] InputShape, long[] WeightShape, double Flops, long Rows)
    {
        /// <summary>In channels per group × kernel height × kernel width: the product's inner dimension.</summary>
        public long Inner => WeightShape[1] * WeightShape[2] * WeightShape[3];

        public long Columns => WeightShape[0];

        public string Describe(string model) =>
            $"{model}: a {WeightShape[2]}×{WeightShape[3]} convolution, {InputShape[1]}→{Columns} channels on {InputShape[2]}×{InputShape[3]} "
            + $"([{Rows}·batch × {Inner}]·[{Inner} × {Columns}] as a matmul)";
    }

    /// <summary>Best-of repetitions for the yardsticks: a kernel alone is quick, and its best time is what the hardware allows.</summary>
    const int YardstickRepeats = 50;

    public override int Execute(CommandContext context, Settings options, CancellationToken cancellation)
    {
        int repeats = options.Quick ? 3 : options.Repeats;
        var batches = options.Quick ? [1] : CliValues.IntList(options.Batch, "--batch");
        if (repeats < 3) throw new CliUsageException("--repeats must be at least 3");
        if (batches.Any(b => b < 1 || b > 256)) throw new CliUsageException("every --batch must be between 1 and 256");
        bool log = !options.Json;
        if (options.Flags is { } flags) return BenchFlags(flags, options.Quick ? 1 : Math.Min(repeats, 3), options.Json);
        var location = options.Location();
        if (log) location.Report();
        var entries = location.Catalog().List();
        foreach (var bad in entries.Where(e => e.Problem is not null && log))
            AnsiConsole.MarkupLineInterpolated($"[yellow]skipping {bad.Name}: {bad.Problem}[/]");
        var models = entries.Where(e => e.Problem is null && e.Card is not null).ToList();
        if (options.Model is { } only)
        {
            models = models.Where(m => m.Name == only).ToList();
            if (models.Count == 0)
                throw new CliUsageException($"{location.Models} has no usable model '{only}'; it has {string.Join(", ", entries.Where(e => e.Problem is null).Select(e => e.Name).DefaultIfEmpty("none"))}");
        }

        var priors = new List<(string Name, UNet Net)>();
        foreach (var m in models) priors.Add((m.Name, Checkpoints.Load(m.CardPath)));
        if (priors.Count == 0)
        {
            // Timings do not depend on the weights: measure the default architecture untrained.
            priors.Add(("small32 (untrained, no model found)", new UNet(UNetConfig.Small32, NoiseSchedule.Linear())));
        }

        var peak = CpuPeak.Read();
        int bestOf = options.Quick ? 10 : YardstickRepeats;
        var rows = new List<BenchRow>();
        var convs = new List<string>();
        foreach (var (name, net) in priors)
        {
            net.eval();
            var (flops, heaviest) = ForwardFlops(net);
            convs.Add(heaviest.Describe(name));
            foreach (int batch in batches)
            {
                if (log) AnsiConsole.MarkupLineInterpolated($"[grey]{name}, batch {batch}…[/]");
                rows.Add(Measure(name, net, batch, repeats, flops, heaviest, fullRuns: !options.Quick, bestOf, location.Models));
            }
            net.Dispose();
        }

        var notes = new List<string>
        {
            $"Machine: {peak.Model}, {Environment.ProcessorCount} cores; {TorchRuntime.Threads} libtorch intra-op thread(s), as the solvers run "
            + $"(DIFFUSIONLAB_TORCH_THREADS sets it). Medians of {repeats} repeats. Overhead = solver step time beyond the bare network call, as a fraction of the step.",
            $"Yardsticks, in the same process and thread and with the same thread count as the network, best of {bestOf}: the network's heaviest convolution "
            + $"alone at the column's batch, and the same FLOPs as one matrix product of its im2col shape. {string.Join("; ", convs)}.",
            peak.Explain(TorchRuntime.Threads),
            "Other jobs share this machine, so figures move from run to run: compare them within one table.",
        };
        if (options.Markdown is { } markdownFile) WriteMarkdown(markdownFile, rows, notes);

        if (options.Json)
        {
            var json = new
            {
                Machine = new
                {
                    Processor = peak.Model, Cores = Environment.ProcessorCount, TorchRuntime.Threads, Repeats = repeats, peak.Extension, peak.FlopsPerCycle,
                    peak.NominalGhz, peak.MeasuredGhz, YardstickBestOf = bestOf, PeakGflopsPerSecondNominal = peak.NominalGflops, PeakGflopsPerSecondMeasured = peak.MeasuredGflops
                },
                HeaviestConvolutions = convs,
                Rows = rows,
            };
            Console.WriteLine(JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
            return 0;
        }
        // One column per (model, batch): the table stays readable in an 80-column terminal.
        var table = new Table().AddColumn("");
        foreach (var r in rows) table.AddColumn(new TableColumn(Markup.Escape($"{r.Model}\nbatch {r.Batch}")).RightAligned());
        foreach (var (label, cell) in Shown(rows)) table.AddRow([Markup.Escape(label), .. rows.Select(r => Markup.Escape(cell(r)))]);
        AnsiConsole.Write(table);
        foreach (var note in notes) AnsiConsole.WriteLine(note);
        if (options.Markdown is { } written) AnsiConsole.MarkupLineInterpolated($"wrote {written}");
        return 0;
    }

    /// <summary>The table's rows, shared by the console and the markdown file.</summary>
    static readonly (string Label, Func<BenchRow, string> Cell)[] Lines =
    [
        ("network forward, ms", r => F(r.ForwardMs)),
        ("forward + backward to x_t (DPS), ms", r => F(r.DpsGradientMs)),
        ("one DDPM step, ms", r => F(r.DdpmStepMs)),
        ("one DPS step, ms", r => F(r.DpsStepMs)),
        ("solver overhead, DDPM", r => P(r.DdpmOverhead)),
        ("solver overhead, DPS", r => P(r.DpsOverhead)),
        ("forward GFLOP (batch 1)", r => F(r.ForwardGflops)),
        ("achieved GFLOP/s, network forward", r => F(r.GflopsPerSecond)),
        ("heaviest conv alone, GFLOP/s", r => F(r.ConvGflopsPerSecond)),
        ("same FLOPs as one matmul, GFLOP/s", r => F(r.MatmulGflopsPerSecond)),
        ("250-step DPS run, s", r => r.Dps250Seconds is { } v ? F(v) : ""),
        ("50-step DDIM sample, s", r => r.Ddim50Seconds is { } v ? F(v) : ""),
        ("one CSGM-VAE iteration (4 starts), ms", r => r.CsgmVaeStepMs is { } v ? F(v) : ""),
        ("one CSGM-GAN iteration (4 starts), ms", r => r.CsgmGanStepMs is { } v ? F(v) : ""),
        ("CSGM iteration ÷ DPS step (target ≤ 2)", r => r.CsgmToDpsStep is { } v ? F(v) : ""),
    ];

    /// <summary>The lines with a figure in some column (a --quick bench makes no full runs).</summary>
    static IEnumerable<(string Label, Func<BenchRow, string> Cell)> Shown(List<BenchRow> rows) => Lines.Where(line => rows.Any(r => line.Cell(r) != ""));

    static string F(double v) => v.ToString(v < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture);

    static string P(double v) => v.ToString("0.0%", CultureInfo.InvariantCulture);

    static void WriteMarkdown(string file, List<BenchRow> rows, List<string> notes)
    {
        var text = new StringBuilder();
        text.AppendLine("# Speed: `bench` figures").AppendLine();
        // The command line as typed (after the program's own path), so the figures can be made again the same way.
        var command = string.Join(" ", Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        text.AppendLine($"Written by `dotnet run --project DiffusionLab.Cli -- {command}` "
                        + $"on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. Quote these figures from here rather than copying them.").AppendLine();
        text.AppendLine("| | " + string.Join(" | ", rows.Select(r => $"{r.Model}, batch {r.Batch}")) + " |");
        text.AppendLine("| --- |" + string.Concat(rows.Select(_ => " ---: |")));
        foreach (var (label, cell) in Shown(rows)) text.AppendLine($"| {label} | " + string.Join(" | ", rows.Select(cell)) + " |");
        text.AppendLine();
        foreach (var note in notes) text.AppendLine($"- {note}");
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (folder is not null) Directory.CreateDirectory(folder);
        File.WriteAllText(file, text.ToString());
    }

    static BenchRow Measure(string name, UNet net, int batch, int repeats, double flops, HeaviestConv heaviest, bool fullRuns, int yardstickRepeats, string modelsFolder)
    {
        long[] shape = [batch, .. net.SampleShape];
        using var x = randn(shape).to(net.Device);
        using var t = ScalarArithmetic.Full([batch], 500L, int64, net.Device);

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
        double? dps250 = batch == 1 && fullRuns ? FullRunSeconds(net, "dps", measurement, y, 250) : null;
        double? ddim50 = batch == 1 && fullRuns ? FullRunSeconds(net, "ddim", null, null, 50) : null;
        var csgmVae = CsgmAgainstDps(net, "csgm-vae", BundledGenerators.Vae, modelsFolder, measurement, y, batch, repeats);
        var csgmGan = CsgmAgainstDps(net, "csgm-gan", BundledGenerators.Gan, modelsFolder, measurement, y, batch, repeats);
        double? csgmToDps = csgmVae is null && csgmGan is null ? null : Math.Max(csgmVae?.Ratio ?? 0, csgmGan?.Ratio ?? 0);
        (measurement as IDisposable)?.Dispose();
        var (conv, matmul) = Yardsticks(heaviest, batch, yardstickRepeats);

        return new BenchRow(name, batch, forward, gradient, ddpmStep, dpsStep,
            Math.Max(0, (ddpmStep - forward) / ddpmStep), Math.Max(0, (dpsStep - gradient) / dpsStep),
            flops / 1e9, flops * batch / (forward / 1000) / 1e9, conv, matmul, dps250, ddim50, csgmVae?.StepMs, csgmGan?.StepMs, csgmToDps);
    }

    /// <summary>
    /// The median CSGM iteration (the catalog's defaults, the generator of <paramref name="model"/> in the models folder) and
    /// its median ratio to a DPS step on <paramref name="prior"/>, the two stepped alternately so a busy machine slows both
    /// alike; null when the generator is absent or makes images of another shape.
    /// </summary>
    static (double StepMs, double Ratio)? CsgmAgainstDps(UNet prior, string solverId, string model, string modelsFolder, IMeasurement a, Tensor y, int batch, int repeats)
    {
        if (!File.Exists(Path.Combine(modelsFolder, model + ".json"))) return null;
        IImageGenerator generator;
        try { generator = BundledGenerators.Load(model, modelsFolder); }
        catch (CheckpointException) { return null; }
        if (!generator.Config.SampleShape.SequenceEqual(prior.SampleShape)) return null;
        var descriptor = SolverCatalog.Find(solverId)!;
        var parameters = descriptor.DefaultsFor(a.Id);
        var csgm = new Csgm(solverId, descriptor.DisplayName, () => generator, (int)parameters["restarts"], parameters["lr"], parameters["lambda"]);
        var dpsDescriptor = SolverCatalog.Find("dps")!;
        var dps = dpsDescriptor.Create(dpsDescriptor.DefaultsFor(a.Id));
        using var csgmStream = new Generator(3);
        using var dpsStream = new Generator(4);
        var noise = NoiseModel.Gaussian(0.05);
        using var csgmSteps = csgm.Solve(new SolverContext(prior, a, y, noise, repeats + 3, batch, csgmStream)).GetEnumerator();
        using var dpsSteps = dps.Solve(new SolverContext(prior, a, y, noise, repeats + 3, batch, dpsStream)).GetEnumerator();
        var steps = new List<double>();
        var ratios = new List<double>();
        for (int i = 0; ; i++)
        {
            var clock = Stopwatch.StartNew();
            if (!csgmSteps.MoveNext()) break;
            double csgmMs = clock.Elapsed.TotalMilliseconds;
            clock.Restart();
            if (!dpsSteps.MoveNext()) break;
            double dpsMs = clock.Elapsed.TotalMilliseconds;
            if (i < 2) continue; // the first steps include warm-up
            steps.Add(csgmMs);
            ratios.Add(csgmMs / dpsMs);
        }
        return (Median(steps), Median(ratios));
    }

    sealed record LargeRow(string Network, string Device, long Parameters, int Threads, int Repeats, double ForwardGflops, double ForwardSeconds,
        double GradientSeconds, double DpsStepSeconds, double ProjectedDps1000Seconds, double ForwardGflopsPerSecond, double DpsTflopPer1000Steps);

    /// <summary>
    /// The cost of a network too large to run whole solver runs with on a CPU (DPS's 256×256 ADM UNet): a warm-up, then the
    /// median of a few forwards, a few forward + backward passes (DPS's gradient) and a few DPS steps on box inpainting;
    /// the 1000-step DPS run is that step's time × 1000. The weights are untrained: the time does not depend on them.
    /// </summary>
    static int BenchFlags(string flagsFile, int repeats, bool json)
    {
        Engine.Priors.AdmUNetConfig config;
        string kind;
        int steps;
        try { (config, kind, steps) = Engine.Training.ForeignCheckpoints.ReadAdmFlags(flagsFile); }
        catch (CheckpointException e) { throw new CliUsageException(e.Message); }
        using var network = new AdmUNet(config, Engine.Priors.ImportedModelCard.MakeSchedule(kind, steps), Path.GetFileNameWithoutExtension(flagsFile));
        var prior = ImportedModels.Prepare(network);
        var name = $"ADM {config.ImageSize}×{config.ImageSize} from {Path.GetFileName(flagsFile)} (untrained)";
        if (!json) AnsiConsole.MarkupLineInterpolated($"[grey]{name}: {network.ParameterCount:N0} parameters on {ComputeDevice.Description}, {TorchRuntime.Threads} libtorch thread(s)…[/]");
        var (flops, _) = ForwardFlops(network, prior);
        using var x = randn([1, .. prior.SampleShape]).to(prior.Device);
        using var t = ScalarArithmetic.Full([1], 500L, int64, prior.Device);

        double Seconds(Action action)
        {
            var times = new List<double>();
            for (int i = 0; i < repeats; i++)
            {
                var clock = Stopwatch.StartNew();
                action();
                Synchronise(prior.Device);
                times.Add(clock.Elapsed.TotalSeconds);
            }
            return Median(times);
        }

        void Forward()
        {
            using var _ = no_grad();
            using var eps = prior.PredictNoise(x, t);
        }

        void Gradient()
        {
            using var scope = NewDisposeScope();
            var xt = x.detach().requires_grad_(true);
            var loss = prior.PredictNoise(xt, t).Squared().sum();
            _ = autograd.grad([loss], [xt])[0];
        }

        Forward(); // warm-up: the first call allocates
        double forward = Seconds(Forward), gradient = Seconds(Gradient);
        var box = OperatorCatalog.Find("box-inpainting")!;
        var measurement = box.Create(new Dictionary<string, double>(), prior.SampleShape, 0);
        using var y = measurement.Forward(x);
        var dps = SolverCatalog.Find("dps")!;
        var solver = dps.Create(dps.DefaultsFor(box.Id));
        using var generator = new Generator(1);
        var stepTimes = new List<double>();
        var clock = Stopwatch.StartNew();
        foreach (var _ in solver.Solve(new SolverContext(prior, measurement, y, NoiseModel.Gaussian(0.05), 1000, 1, generator)))
        {
            Synchronise(prior.Device);
            stepTimes.Add(clock.Elapsed.TotalSeconds);
            if (stepTimes.Count > repeats) break; // the first step includes its warm-up
            clock.Restart();
        }
        (measurement as IDisposable)?.Dispose();
        double dpsStep = Median(stepTimes.Skip(1));
        // DPS's step is a forward and a backward pass to x_t. The prior's weights are frozen, so the backward computes the
        // input gradients only, about one forward's worth of arithmetic (a training step's weight gradients would double it).
        var row = new LargeRow(name, ComputeDevice.Description, network.ParameterCount, TorchRuntime.Threads, repeats, flops / 1e9, forward, gradient, dpsStep,
            1000 * dpsStep, flops / forward / 1e9, 1000 * 2 * flops / 1e12);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(row, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return 0;
        }
        var table = new Table().AddColumn("").AddColumn(new TableColumn("").RightAligned());
        foreach (var (label, value) in new[]
                 {
                     ("parameters", row.Parameters.ToString("N0", CultureInfo.InvariantCulture)),
                     ("forward GFLOP (batch 1)", F(row.ForwardGflops)),
                     ("network forward, s", F(row.ForwardSeconds)),
                     ("forward + backward to x_t (DPS), s", F(row.GradientSeconds)),
                     ("one DPS step, s", F(row.DpsStepSeconds)),
                     ("1000-step DPS run, projected, s", F(row.ProjectedDps1000Seconds)),
                     ("1000-step DPS run, projected, h", F(row.ProjectedDps1000Seconds / 3600)),
                     ("achieved GFLOP/s, forward", F(row.ForwardGflopsPerSecond)),
                     ("1000-step DPS run, TFLOP (≈ 2 × forward per step)", F(row.DpsTflopPer1000Steps)),
                 })
            table.AddRow(Markup.Escape(label), Markup.Escape(value));
        AnsiConsole.Write(table);
        AnsiConsole.WriteLine($"Medians of {repeats} calls after a warm-up, batch 1, on {row.Device} with {row.Threads} libtorch thread(s); the run is projected " +
                              "from the step time, not run. FLOPs count every convolution, linear layer and attention product.");
        return 0;
    }

    /// <summary>Waits for a GPU's queued work, so a clock read after a call measures the call (a CPU computes as it is called).</summary>
    static void Synchronise(Device device)
    {
        if (device.type == DeviceType.CUDA) torch.cuda.synchronize(device);
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

    /// <summary>
    /// Multiply-add count of one forward at batch 1 (2·MACs of every convolution and linear layer, measured
    /// with forward hooks), and the convolution that does the most of them.
    /// </summary>
    static (double Flops, HeaviestConv Heaviest) ForwardFlops(UNet net) => ForwardFlops(net, net);

    static (double Flops, HeaviestConv Heaviest) ForwardFlops(nn.Module net, IDenoiser prior)
    {
        double flops = 0;
        HeaviestConv? heaviest = null;
        var removers = new List<Action>();
        foreach (var (_, module) in net.named_modules())
        {
            switch (module)
            {
                case TorchSharp.Modules.Conv2d conv:
                    var convHook = conv.register_forward_hook((m, input, output) =>
                    {
                        var w = conv.weight!;
                        double convFlops = 2.0 * output.numel() * w.shape[1] * w.shape[2] * w.shape[3];
                        flops += convFlops;
                        if (heaviest is null || convFlops > heaviest.Flops)
                            heaviest = new HeaviestConv(conv, input.shape, w.shape, convFlops, output.shape[2] * output.shape[3]);
                        return output;
                    });
                    removers.Add(convHook.remove);
                    break;
                case TorchSharp.Modules.Conv1d conv1d:
                    var conv1dHook = conv1d.register_forward_hook((m, input, output) =>
                    {
                        var w = conv1d.weight!;
                        flops += 2.0 * output.numel() * w.shape[1] * w.shape[2];
                        return output;
                    });
                    removers.Add(conv1dHook.remove);
                    break;
                case AdmAttention attention:
                    // Two products over the pixels, q·kᵀ and the weights·v: 2 · 2 · B · T² · C.
                    var attentionHook = attention.register_forward_hook((m, input, output) =>
                    {
                        double pixels = output.shape[2] * output.shape[3];
                        flops += 4.0 * output.shape[0] * pixels * pixels * output.shape[1];
                        return output;
                    });
                    removers.Add(attentionHook.remove);
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
        using (var x = randn([1, .. prior.SampleShape]).to(prior.Device))
        using (var t = ScalarArithmetic.Full([1], 500L, int64, prior.Device))
        using (var eps = prior.PredictNoise(x, t)) { }
        foreach (var remove in removers) remove();
        return (flops, heaviest ?? throw new InvalidOperationException($"{prior.Name} has no convolution to measure"));
    }

    /// <summary>
    /// GFLOP/s of the heaviest convolution alone at this batch, and of the same FLOPs as one matrix product: run as
    /// the network runs (same process, thread and libtorch thread count), best of many, so what the kernels can do here.
    /// </summary>
    static (double Conv, double Matmul) Yardsticks(HeaviestConv heaviest, int batch, int repeats)
    {
        using var _ = no_grad();
        double flops = heaviest.Flops * batch;
        var device = heaviest.Module.weight!.device;
        using var x = randn([batch, .. heaviest.InputShape[1..]]).to(device);
        double convMs = Best(repeats, () => { using var y = heaviest.Module.forward(x); });
        using var a = randn(heaviest.Rows * batch, heaviest.Inner).to(device);
        using var b = randn(heaviest.Inner, heaviest.Columns).to(device);
        double matmulMs = Best(repeats, () => { using var c = a.mm(b); });
        return (flops / convMs / 1e6, flops / matmulMs / 1e6);
    }

    static double Best(int repeats, Action action)
    {
        action(); // warm-up
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
        }
        return best;
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
