using DiffusionLab.Engine;
using System.Diagnostics;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_Sample() => Register("sample",
        "draw samples from a bundled prior into a grid: --model pixel-faces-32 --n 64 --steps 50 --sampler ddim|ddpm --seed 0 --out FILE.png [--models DIR --scale 2 --no-clip --class NAME|all --guidance 1]",
        SampleAsync);

    static Task<int> SampleAsync(string[] args)
    {
        var o = new CliOptions(args, "no-clip");
        var name = o.String("model", "pixel-faces-32");
        int n = o.Int("n", 64), steps = o.Int("steps", 50), seed = o.Int("seed", 0), scale = o.Int("scale", 2);
        var sampler = o.String("sampler", "ddim");
        var output = o.String("out", $"samples-{name}.png");
        if (n < 1 || n > 1024) throw new CliUsageException("--n must be between 1 and 1024");
        if (steps < 1) throw new CliUsageException("--steps must be at least 1");
        ISolver solver = sampler switch
        {
            "ddim" => new Ddim(0),
            "ddpm" => new Ddpm(),
            _ => throw new CliUsageException($"--sampler must be ddim or ddpm, not '{sampler}'"),
        };
        var catalog = o.Has("models") ? new ModelCatalog(o.String("models", "models")) : ModelCatalog.FindDefault();
        UNet model;
        try { model = catalog.Load(name); }
        catch (CheckpointException e) { throw new CliUsageException(e.Message); }
        using (model)
        using (no_grad())
        {
            using var scope = NewDisposeScope();
            var clock = Stopwatch.StartNew();
            using var generator = new Generator((ulong)seed);
            // A class-conditional prior can be guided toward classes: one class for every sample, or "all" in turn, row by row.
            using var guided = o.Has("class") ? GuidedToward(model, o.String("class", ""), n, o.Double("guidance", 1)) : null;
            if (guided is null && o.Has("guidance")) throw new CliUsageException("--guidance needs --class NAME (or all)");
            // Clipping x̂0 to the image range (ADM's default) is what makes a briefly trained prior's samples clean.
            IDenoiser unclipped = guided is null ? model : guided;
            IDenoiser prior = o.Has("no-clip") ? unclipped : new ClippedDenoiser(unclipped);
            var context = new SolverContext(prior, null, null, NoiseModel.Gaussian(0), steps, n, generator);
            Tensor? final = null;
            foreach (var step in solver.Solve(context))
                if (step.IsFinal) final = step.Xt.Clamped(-1, 1).clone();
            ImageCodec.WriteFile(output, final!, columns: (int)Math.Ceiling(Math.Sqrt(n)), scale: scale);
            Console.WriteLine($"wrote {n} {sampler} samples ({steps} steps) from {name} to {output} in {clock.Elapsed.TotalSeconds:F1} s");
        }
        return Task.FromResult(0);
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
