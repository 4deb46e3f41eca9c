using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using Spectre.Console;
using Spectre.Console.Cli;
using Spectre.Console.Cli.Help;
using Spectre.Console.Rendering;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace DiffusionLab.Cli;

/// <summary>
/// The console verbs, parsed by Spectre.Console.Cli: each verb is a command class with a typed
/// settings class, so its help (options, value names, defaults) comes from the same declarations
/// the parser reads, and an option nobody declared is an error instead of being ignored.
/// </summary>
static class CliApp
{
    public const string Name = "DiffusionLab.Cli";

    /// <summary>Verb name → its settings type, for the "did you mean" hints.</summary>
    static readonly Dictionary<string, Type> Verbs = new(StringComparer.Ordinal);

    public static int Run(string[] args)
    {
        var typed = args;
        args = OldSpellings(HelpVerb(args));
        var app = new CommandApp();
        app.Configure(config =>
        {
            config.SetApplicationName(Name);
            config.Settings.Culture = CultureInfo.InvariantCulture;
            config.UseStrictParsing();
            // Errors come back here as exceptions and are printed as one line with a hint (below).
            config.PropagateExceptions();
            config.SetHelpProvider(new Help(config.Settings));
            config.SetInterceptor(new DeviceInterceptor());
            Add<SolveVerb>(config, "solve", "run one experiment from a lab link's query string and write ground truth, measurement and result as PNGs",
                ["solve", "--spec", "\"op=box-inpainting&solver=dps&steps=100\"", "--out", "solve-output"]);
            Add<SampleVerb>(config, "sample", "draw samples from a bundled prior into one PNG grid",
                ["sample", "--model", "pixel-faces-32", "--n", "16", "--steps", "50", "--out", "faces.png"]);
            Add<GridVerb>(config, "grid", "tile the PNG images of a folder into one grid, laid out like sample's");
            Add<TrainVerb>(config, "train", "train a UNet prior on a folder of images (resumable)");
            Add<TrainVaeVerb>(config, "train-vae", "train a convolutional VAE (β-ELBO) on a folder of images (resumable)",
                ["train-vae", "--data", "data/pixel-faces", "--out", "artifacts/vae", "--model-name", "vae-faces-32", "--export", "models"]);
            Add<TrainGanVerb>(config, "train-gan", "train a DCGAN, plain (non-saturating loss) or stable (hinge loss, spectral norm), on a folder of images (resumable)",
                ["train-gan", "--objective", "stable", "--data", "data/pixel-faces", "--out", "artifacts/gan", "--model-name", "gan-faces-32", "--export", "models"]);
            Add<GeneratorsVerb>(config, "generators", "the VAE, the GANs and the diffusion prior beside held-out data: sharpness, diversity, memorisation, precision/recall; with --inverse, PSNR/SSIM as priors",
                ["generators", "--markdown", "generators.md"],
                ["generators", "--inverse", "--generators", "vae-faces-32,gan-faces-32", "--json"]);
            Add<GeneratorHistoryVerb>(config, "generator-history", "ship a train-vae or train-gan run's history beside the /generators page: averaged losses, charts, a few grids",
                ["generator-history", "--state", "artifacts/plain", "--out", "wwwroot-assets/generators/gan-plain-faces-32", "--title", "plain GAN"]);
            Add<ImportVerb>(config, "import", "bring weights into models/: from tools/gpu-train/train_unet.py, guided-diffusion (ADM) or diffusers (UNet2DModel)",
                ["import", "--format", "guided-diffusion", "--weights", "ffhq_10m.pt", "--flags", "model_config.yaml", "--name", "ffhq-256"],
                ["import", "--format", "diffusers", "--from", "ddpm-celebahq-256", "--name", "celebahq-256"]);
            Add<PrepareDataVerb>(config, "prepare-data", "rasterise a folder of SVG/PNG images to square PNGs with train/ and heldout/ splits");
            Add<BenchVerb>(config, "bench", "speed of each bundled model: network, DPS gradient, solver steps and overhead, GFLOP/s against this CPU's yardsticks",
                ["bench", "--markdown", "docs/performance-bench.md"]);
            Add<BenchBatchingVerb>(config, "bench-batching", "steps/s of many concurrent DPS runs batched on one prior against the same runs one after another");
            Add<EvaluateVerb>(config, "evaluate", "the results table: solvers × tasks over N held-out images of a prior, mean ± standard error of PSNR, SSIM and the residual, network evaluations and seconds (resumable)",
                ["evaluate", "--prior", "pixel-faces-32", "--images", "16", "--steps", "50"]);
            Add<GmmBenchmarkVerb>(config, "gmm-benchmark", "exact-posterior Gaussian-mixture benchmark (MCGdiff): each solver's distance to the true posterior");
        });
        try
        {
            // The parser gives an option that ends the line without its value a placeholder value instead of an error.
            if (args.Length > 1 && Verbs.TryGetValue(args[0], out var settings) && TakesValue(settings, args[^1]))
                throw new CliUsageException($"{typed[^1]} needs a value");
            return app.Run(args);
        }
        catch (CliUsageException e)
        {
            return Refuse(e.Message, VerbHint(args));
        }
        catch (DeviceUnavailableException e)
        {
            // Never a silent CPU run: the device asked for is not here, said in one line naming the setting.
            Errors().MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }
        catch (CommandAppException e)
        {
            return Refuse(Explain(e, args), VerbHint(args));
        }
        catch (Exception e) when (e is CheckpointException or ImageDecodeException or IOException or UnauthorizedAccessException)
        {
            // Files that are missing, unreadable or not what they claim: the user's to fix, so no stack trace.
            Errors().MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
    }

    static void Add<TCommand>(IConfigurator config, string name, string description, params string[][] examples) where TCommand : class, ICommand
    {
        var verb = config.AddCommand<TCommand>(name).WithDescription(Markup.Escape(description));
        foreach (var example in examples) verb.WithExample(example);
        Verbs[name] = typeof(TCommand).BaseType!.GetGenericArguments()[0];
    }

    /// <summary><c>help</c> and <c>help VERB</c> mean what <c>--help</c> and <c>VERB --help</c> do.</summary>
    static string[] HelpVerb(string[] args) => args switch
    {
        ["help"] => ["--help"],
        ["help", var verb, ..] => [verb, "--help"],
        _ => args,
    };

    /// <summary>
    /// Spectre takes one-letter options as short ones only (<c>-n</c>); sample's and grid's <c>--n</c>
    /// is what scripts and the README have always written, so it still means <c>-n</c>.
    /// </summary>
    static string[] OldSpellings(string[] args) => [.. args.Select(a => a == "--n" ? "-n" : a)];

    static int Refuse(string message, string hint)
    {
        Errors().MarkupLineInterpolated($"[red]{message}[/] ({hint})");
        return 2;
    }

    /// <summary>Standard error, never wrapped by Spectre: a message stays one line for a script or a test to read (a terminal still wraps it).</summary>
    static IAnsiConsole Errors()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Profile.Width = 10_000;
        return console;
    }

    /// <summary>Where to look next: the verb's own help once the verb is known, else the list of verbs.</summary>
    static string VerbHint(string[] args) =>
        args.Length > 0 && Verbs.ContainsKey(args[0]) ? $"see '{Name} {args[0]} --help'" : $"see '{Name} --help' for the verbs";

    /// <summary>The parser's message, with the option named and the nearest spelling suggested where it can.</summary>
    static string Explain(CommandAppException e, string[] args)
    {
        var message = e.Message.TrimEnd('.');
        var unknown = Regex.Match(message, "^Unknown (command|option) '(.+)'$");
        if (unknown.Success)
        {
            bool isVerb = unknown.Groups[1].Value == "command";
            var wrong = unknown.Groups[2].Value;
            var known = isVerb ? Verbs.Keys : args.Length > 0 && Verbs.TryGetValue(args[0], out var settings) ? OptionNames(settings) : [];
            // A second word after a verb is not a verb: the verbs take options only.
            if (isVerb && args.Length > 0 && Verbs.ContainsKey(args[0]) && args[0] != wrong)
                return $"{args[0]} takes no argument '{wrong}'; every value follows an option such as --out";
            var shown = isVerb ? $"unknown verb '{wrong}'" : $"unknown option '{(wrong.Length == 1 ? "-" : "--")}{wrong}'";
            return Nearest(wrong, known) is { } guess ? $"{shown}; did you mean {(isVerb ? "" : "--")}{guess}?" : shown;
        }
        var conversion = Regex.Match(message, "^Failed to convert '(.*)' to ");
        if (conversion.Success)
        {
            var value = conversion.Groups[1].Value;
            var option = OptionGiven(args, value);
            var property = option is not null && args.Length > 0 && Verbs.TryGetValue(args[0], out var settings) ? Property(settings, option) : null;
            var type = property is null ? null : Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            var kind = type == typeof(int) || type == typeof(long) ? "a whole number" : type == typeof(double) || type == typeof(float) ? "a number" : "a value of its kind";
            return option is null ? $"'{value}' is not a valid value" : $"{option} takes {kind}, not '{value}'";
        }
        var missing = Regex.Match(message, "^Option '(.+)' is defined but no value has been provided$");
        if (missing.Success) return $"--{missing.Groups[1].Value} needs a value";
        return message;
    }

    /// <summary>The option a value was given to on the command line (<c>--steps abc</c> or <c>--steps=abc</c>).</summary>
    static string? OptionGiven(string[] args, string value)
    {
        for (int i = 0; i < args.Length; i++)
        {
            if (i > 0 && args[i] == value && args[i - 1].StartsWith('-')) return args[i - 1];
            int equals = args[i].IndexOf('=');
            if (args[i].StartsWith('-') && equals > 0 && args[i][(equals + 1)..] == value) return args[i][..equals];
        }
        return null;
    }

    static IEnumerable<(PropertyInfo Property, CommandOptionAttribute Option)> Options(Type settings) =>
        from p in settings.GetProperties(BindingFlags.Public | BindingFlags.Instance)
        let a = p.GetCustomAttribute<CommandOptionAttribute>()
        where a is not null
        select (p, a);

    static IEnumerable<string> OptionNames(Type settings) => Options(settings).SelectMany(o => o.Option.LongNames);

    /// <summary>The settings property of "--name" or "-n", if the verb has one.</summary>
    static PropertyInfo? Property(Type settings, string token) => Options(settings).FirstOrDefault(o =>
        token.StartsWith("--", StringComparison.Ordinal) ? o.Option.LongNames.Contains(token[2..]) : token.StartsWith('-') && o.Option.ShortNames.Contains(token[1..])).Property;

    static bool TakesValue(Type settings, string token) =>
        Property(settings, token) is { } property && property.GetCustomAttribute<CommandOptionAttribute>()!.ValueName is not null;

    /// <summary>The known name within two edits of what was typed, if there is exactly one nearest.</summary>
    static string? Nearest(string typed, IEnumerable<string> known)
    {
        var ranked = known.Select(k => (Name: k, Distance: EditDistance(typed, k))).Where(k => k.Distance <= 2).OrderBy(k => k.Distance).ToList();
        return ranked.Count == 0 || (ranked.Count > 1 && ranked[1].Distance == ranked[0].Distance) ? null : ranked[0].Name;
    }

    static int EditDistance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (int i = 1; i <= a.Length; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), diagonal + (a[i - 1] == b[j - 1] ? 0 : 1));
                diagonal = above;
            }
        }
        return row[b.Length];
    }

    /// <summary>Spectre's help, with a footer on the tool's own page that says how to run it and where the models are looked for.</summary>
    sealed class Help(ICommandAppSettings settings) : HelpProvider(settings)
    {
        public override IEnumerable<IRenderable> GetFooter(ICommandModel model, ICommandInfo? command)
        {
            if (command is not null) return base.GetFooter(model, command);
            return
            [
                new Markup("\n" + Markup.Escape($"From a checkout: dotnet run --project DiffusionLab.Cli -- <verb> [options]. '{Name} <verb> --help' lists a verb's options and their defaults.") + "\n"),
                new Markup(Markup.Escape(ModelsLocation.SearchOrder) + "\n"),
            ];
        }
    }
}

/// <summary>An option's help text. Spectre reads descriptions as markup, so brackets such as [-1, 1] are escaped here, once for all.</summary>
[AttributeUsage(AttributeTargets.Property)]
sealed class HelpAttribute(string text) : System.ComponentModel.DescriptionAttribute(Markup.Escape(text));

/// <summary>A mistake in how a verb was called; printed as one line, without a stack trace.</summary>
sealed class CliUsageException(string message) : Exception(message);
