using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Diagnostics;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

sealed class SampleVerb : Command<SampleVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--model <NAME>")]
        [Help("which model of the models folder")]
        [DefaultValue("pixel-faces-32")]
        public string Model { get; set; } = "pixel-faces-32";

        [CommandOption("-n|--count <N>")]
        [Help("how many samples (1 to 1024), laid out in a square grid; --n N works too")]
        [DefaultValue(64)]
        public int N { get; set; } = 64;

        [CommandOption("--steps <N>")]
        [Help("sampler steps")]
        [DefaultValue(50)]
        public int Steps { get; set; } = 50;

        [CommandOption("--sampler <NAME>")]
        [Help("ddim (deterministic) or ddpm (ancestral)")]
        [DefaultValue("ddim")]
        public string Sampler { get; set; } = "ddim";

        [CommandOption("--seed <N>")]
        [Help("seed of the starting noise and of every step's noise")]
        [DefaultValue(0)]
        public int Seed { get; set; }

        [CommandOption("--out <FILE>")]
        [Help("the PNG to write (default: samples-MODEL.png)")]
        public string? Out { get; set; }

        [CommandOption("--scale <N>")]
        [Help("pixels per image pixel in the grid")]
        [DefaultValue(2)]
        public int Scale { get; set; } = 2;

        [CommandOption("--no-clip")]
        [Help("do not clip the predicted clean image to [-1, 1] at each step")]
        public bool NoClip { get; set; }

        [CommandOption("--class <NAME>")]
        [Help("a class-conditional model: guide every sample toward this class, or 'all' for each class in turn, row by row")]
        public string? Class { get; set; }

        [CommandOption("--guidance <W>")]
        [Help("classifier-free guidance weight for --class (0 to 50; default 1)")]
        public double? Guidance { get; set; }
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        var name = o.Model;
        int n = o.N, steps = o.Steps, seed = o.Seed, scale = o.Scale;
        var sampler = o.Sampler;
        var output = o.Out ?? $"samples-{name}.png";
        if (n < 1 || n > 1024) throw new CliUsageException("--n must be between 1 and 1024");
        if (steps < 1) throw new CliUsageException("--steps must be at least 1");
        ISolver solver = sampler switch
        {
            "ddim" => new Ddim(0),
            "ddpm" => new Ddpm(),
            _ => throw new CliUsageException($"--sampler must be ddim or ddpm, not '{sampler}'"),
        };
        var location = o.Location();
        location.Report();
        var catalog = location.Catalog();
        IDenoiser loaded;
        try { loaded = catalog.LoadPrior(name); }
        catch (CheckpointException e) { throw new CliUsageException(e.Message); }
        using (loaded as IDisposable)
        using (no_grad())
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            using var generator = new Generator((ulong)seed);
            // A class-conditional prior can be guided toward classes: one class for every sample, or "all" in turn, row by row.
            using var guided = o.Class is { } wanted
                ? GuidedToward(loaded as UNet ?? throw new CliUsageException($"{name} is an imported network without classes, so --class cannot pick one"), wanted, n, o.Guidance ?? 1)
                : null;
            if (guided is null && o.Guidance is not null) throw new CliUsageException("--guidance needs --class NAME (or all)");
            // Clipping x̂0 to the image range (ADM's default) is what makes a briefly trained prior's samples clean.
            IDenoiser unclipped = guided is null ? loaded : guided;
            IDenoiser prior = o.NoClip ? unclipped : new ClippedDenoiser(unclipped);
            var solverContext = new SolverContext(prior, null, null, NoiseModel.Gaussian(0), steps, n, generator);
            Tensor? final = null;
            foreach (var step in solver.Solve(solverContext))
                if (step.IsFinal) final = step.Xt.Clamped(-1, 1).clone();
            ImageCodec.WriteFile(output, final!, columns: (int)Math.Ceiling(Math.Sqrt(n)), scale: scale);
            Console.WriteLine($"wrote {n} {sampler} samples ({steps} steps) from {name} to {output} in {clock.Elapsed.TotalSeconds:F1} s");
        }
        return 0;
    }

    /// <summary>Classifier-free guidance toward one named class for all <paramref name="n"/> samples, or toward every class in turn ("all").</summary>
    static ClassGuidedDenoiser GuidedToward(UNet model, string wanted, int n, double guidance)
    {
        var names = model.Config.ClassNames;
        if (names is null) throw new CliUsageException($"{model.Name} was not trained with classes, so --class cannot pick one");
        if (!(guidance >= 0) || guidance > 50) throw new CliUsageException("--guidance must be between 0 and 50");
        long[] classes;
        if (wanted.Equals("all", StringComparison.OrdinalIgnoreCase))
            classes = ClassGuidedDenoiser.EvenShares(n, names.Length);
        else
        {
            int index = Array.FindIndex(names, c => c.Equals(wanted, StringComparison.OrdinalIgnoreCase));
            if (index < 0) throw new CliUsageException($"{model.Name} has no class '{wanted}'; its classes are {string.Join(", ", names)} (or all)");
            classes = Enumerable.Repeat((long)index, n).ToArray();
        }
        return new ClassGuidedDenoiser(model, classes, guidance);
    }
}
