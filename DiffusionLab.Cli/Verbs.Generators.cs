using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Training;
using Spectre.Console;
using Spectre.Console.Cli;
using System.ComponentModel;
using System.Globalization;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace DiffusionLab.Cli;

/// <summary>
/// The poster's claims about VAEs and GANs, measured: samples of each generator and of the diffusion
/// prior against the same held-out images (sharpness, diversity, memorisation, precision and recall),
/// and, with --inverse, each as a prior for the same corrupted held-out images (mean PSNR and SSIM).
/// </summary>
sealed class GeneratorsVerb : Command<GeneratorsVerb.Settings>
{
    public sealed class Settings : ModelSettings
    {
        [CommandOption("--data <DIR>")]
        [Help("the data set: a folder with train/ (for the distance to the nearest training image) and heldout/")]
        [DefaultValue("data/pixel-faces")]
        public string Data { get; set; } = "data/pixel-faces";

        [CommandOption("--generators <LIST>")]
        [Help("the VAE and GAN cards to measure, comma-separated: names in the models folder or paths to .json cards; a default one that is absent is skipped")]
        [DefaultValue(DefaultGenerators)]
        public string Generators { get; set; } = DefaultGenerators;

        [CommandOption("--prior <NAME>")]
        [Help("the diffusion prior to sample beside them ('none' to leave it out)")]
        [DefaultValue("pixel-faces-32")]
        public string Prior { get; set; } = "pixel-faces-32";

        [CommandOption("--no-prior-samples")]
        [Help("leave the diffusion prior's row out of the properties table (its samples take most of the time); --inverse still uses the prior")]
        public bool NoPriorSamples { get; set; }

        [CommandOption("--sampler <NAME>")]
        [Help("the diffusion prior's sampler: ddim (deterministic) or ddpm (ancestral)")]
        [DefaultValue("ddim")]
        public string Sampler { get; set; } = "ddim";

        [CommandOption("--sampler-steps <N>")]
        [Help("the diffusion sampler's steps")]
        [DefaultValue(50)]
        public int SamplerSteps { get; set; } = 50;

        [CommandOption("--samples <N>")]
        [Help("samples drawn from each generator and from the prior")]
        [DefaultValue(256)]
        public int Samples { get; set; } = 256;

        [CommandOption("--heldout <N>")]
        [Help("held-out images read: the first half is the reference, the second half is measured as 'data', the yardstick")]
        [DefaultValue(512)]
        public int Heldout { get; set; } = 512;

        [CommandOption("--neighbours <K>")]
        [Help("k of the k-nearest-neighbour manifolds of precision and recall")]
        [DefaultValue(SampleProperties.DefaultNeighbours)]
        public int Neighbours { get; set; } = SampleProperties.DefaultNeighbours;

        [CommandOption("--seed <N>")]
        [Help("seed of the codes and of the diffusion sampler's noise")]
        [DefaultValue(7)]
        public int Seed { get; set; } = 7;

        [CommandOption("--inverse")]
        [Help("also solve corrupted held-out images with each solver and report mean PSNR and SSIM")]
        public bool Inverse { get; set; }

        [CommandOption("--images <N>")]
        [Help("held-out images (from the second half) each solver restores, with --inverse")]
        [DefaultValue(64)]
        public int Images { get; set; } = 64;

        [CommandOption("--corruptions <LIST>")]
        [Help("corruptions of the --inverse table, comma-separated")]
        [DefaultValue("box-inpainting,super-resolution,denoise")]
        public string Corruptions { get; set; } = "box-inpainting,super-resolution,denoise";

        [CommandOption("--solvers <LIST>")]
        [Help("solvers of the --inverse table, comma-separated, each with the catalog's defaults (CSGM uses the bundled VAE and GAN, as the lab does)")]
        [DefaultValue("csgm-vae,csgm-gan,dps,hqs")]
        public string Solvers { get; set; } = "csgm-vae,csgm-gan,dps,hqs";

        [CommandOption("--sigma-y <SIGMA>")]
        [Help("σ_y of the Gaussian measurement noise, with --inverse")]
        [DefaultValue(0.05)]
        public double SigmaY { get; set; } = 0.05;

        [CommandOption("--sr-factor <N>")]
        [Help("the super-resolution shrink factor, 2 or 4")]
        [DefaultValue(4)]
        public int SrFactor { get; set; } = 4;

        [CommandOption("--threads <N>")]
        [Help("libtorch intra-op threads")]
        [DefaultValue(1)]
        public int Threads { get; set; } = 1;

        [CommandOption("--json")]
        [Help("print the figures as JSON instead of tables")]
        public bool Json { get; set; }

        [CommandOption("--markdown <FILE>")]
        [Help("also write the tables and how they were measured to this markdown file")]
        public string? Markdown { get; set; }

        [CommandOption("--beside-heldout <DIR>")]
        [Help("also write, for each set, samples-NAME.png: 32 samples (left) beside 32 held-out images (right), e.g. docs")]
        public string? BesideHeldout { get; set; }

        [CommandOption("--figures <DIR>")]
        [Help("also write what the /generators page shows: properties.json, inverse.json and sample grids (e.g. wwwroot-assets/generators)")]
        public string? Figures { get; set; }
    }

    const string DefaultGenerators = "vae-faces-32,gan-faces-32,gan-plain-faces-32";

    /// <summary>A row of the properties table with what it measured: the model's name and steps (none for the data and the prior).</summary>
    sealed record MeasuredRow(string Name, string? Model, long? Steps, int Count, SetProperties Properties);

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.Samples < 8 || o.Samples > 4096) throw new CliUsageException("--samples must be between 8 and 4096");
        if (o.Heldout < 8) throw new CliUsageException("--heldout must be at least 8");
        if (o.Neighbours < 1 || o.Neighbours >= o.Samples) throw new CliUsageException("--neighbours must be at least 1 and below --samples");
        if (o.SamplerSteps < 1) throw new CliUsageException("--sampler-steps must be at least 1");
        if (o.Threads < 1) throw new CliUsageException("--threads must be at least 1");
        if (o.SrFactor is not (2 or 4)) throw new CliUsageException("--sr-factor must be 2 or 4");
        if (!(o.SigmaY >= 0) || double.IsInfinity(o.SigmaY)) throw new CliUsageException("--sigma-y must be a finite number of at least 0");
        ISolver sampler = o.Sampler switch
        {
            "ddim" => new Ddim(0),
            "ddpm" => new Ddpm(),
            _ => throw new CliUsageException($"--sampler must be ddim or ddpm, not '{o.Sampler}'"),
        };
        TorchRuntime.SetThreads(o.Threads);
        bool log = !o.Json;
        void Log(string message)
        {
            if (log) AnsiConsole.MarkupLineInterpolated($"[grey]{DateTime.UtcNow:HH:mm:ss} {message}[/]");
        }
        var location = o.Location();
        if (log) location.Report();

        var trainFolder = Path.Combine(o.Data, "train");
        var heldoutFolder = Path.Combine(o.Data, "heldout");
        if (!Directory.Exists(trainFolder) || !Directory.Exists(heldoutFolder))
            throw new CliUsageException($"--data {o.Data} needs train/ and heldout/ folders (tools/fetch-data.sh makes data/pixel-faces)");

        var cards = Cards(o.Generators, location, o.Generators == DefaultGenerators, Log);
        IDenoiser? prior = null;
        if (!o.Prior.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            var priors = location.Priors();
            if (priors.Find(o.Prior) is null) throw new CliUsageException($"--prior {o.Prior}: {location.Models} has no such prior ('none' leaves it out)");
            prior = priors.Load(o.Prior);
        }
        if (cards.Count == 0 && (prior is null || o.NoPriorSamples)) throw new CliUsageException("nothing to measure: no generator card was found and no prior is sampled");
        var shapes = cards.Select(c => c.Card.Config.SampleShape).Concat(prior is null ? [] : [prior.SampleShape]).Select(s => string.Join('×', s)).Distinct().ToList();
        if (shapes.Count > 1) throw new CliUsageException($"the generators and the prior make images of different shapes ({string.Join(", ", shapes)}); measure them separately");
        var shape = cards.Count > 0 ? cards[0].Card.Config.SampleShape : prior!.SampleShape;
        int size = (int)shape[1], channels = (int)shape[0];

        using var scope = NewDisposeScope();
        ImageFolderDataset Load(string folder, int limit = int.MaxValue)
        {
            try { return ImageFolderDataset.Load(folder, size, channels, limit); }
            catch (InvalidDataException e) { throw new CliUsageException(e.Message); }
        }
        using var heldout = Load(heldoutFolder, o.Heldout);
        using var training = Load(trainFolder);
        if (heldout.Count < 2 * (o.Neighbours + 1)) throw new CliUsageException($"{heldoutFolder} has {heldout.Count} images; precision and recall with k = {o.Neighbours} need at least {2 * (o.Neighbours + 1)}");
        Log($"data: {training.Count} training images, {heldout.Count} held out ({heldout.Count / 2} the reference, {heldout.Count - heldout.Count / 2} measured as data)");

        var sets = new List<(NamedSamples Set, string? Model, long? Steps, string GridName)>();
        foreach (var (path, card) in cards)
        {
            var generator = GeneratorCheckpoints.LoadGenerator(path);
            sets.Add((new NamedSamples($"{Label(card)}, {card.TrainingSteps} steps", GeneratorComparison.Sample(generator, o.Samples, o.Seed)), card.Name, card.TrainingSteps, card.Name));
            generator.Dispose();
            Log($"sampled {card.Name} ({card.TrainingSteps} steps)");
        }
        if (prior is not null && !o.NoPriorSamples)
        {
            var images = GeneratorComparison.Sample(prior, sampler, o.SamplerSteps, o.Samples, o.Seed);
            sets.Add((new NamedSamples($"diffusion ({o.Prior}, {o.Sampler.ToUpperInvariant()} {o.SamplerSteps})", images), o.Prior, null, "diffusion"));
            Log($"sampled {o.Prior} ({o.Sampler}, {o.SamplerSteps} steps)");
        }
        var measured = GeneratorComparison.Properties(heldout.Images, training.Images, sets.Select(s => s.Set), o.Neighbours);
        var rows = measured.Select((r, i) => i == 0
            ? new MeasuredRow("data (held-out images)", null, null, r.Count, r.Properties)
            : new MeasuredRow(r.Name, sets[i - 1].Model, sets[i - 1].Steps, r.Count, r.Properties)).ToList();

        List<InverseProblemRow> inverse = [];
        if (o.Inverse)
        {
            if (prior is null) throw new CliUsageException("--inverse needs a diffusion prior (the run's image shape and DPS's network); drop --prior none");
            if (o.Images < 1 || o.Images > heldout.Count - heldout.Count / 2) throw new CliUsageException($"--images must be between 1 and {heldout.Count - heldout.Count / 2} (the second half of the held-out images read)");
            var corruptions = o.Corruptions.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var solvers = o.Solvers.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            foreach (var c in corruptions.Where(c => Engine.Methods.OperatorCatalog.Find(c) is null)) throw new CliUsageException($"--corruptions: no corruption '{c}'");
            foreach (var s in solvers.Where(s => Engine.Methods.SolverCatalog.Find(s) is null)) throw new CliUsageException($"--solvers: no solver '{s}'");
            using var x = heldout.Images.narrow(0, heldout.Count / 2, o.Images);
            // The catalog's super-resolution factor is a choice: 0 is ×2, 1 is ×4.
            var parameters = new Dictionary<string, IReadOnlyDictionary<string, double>> { ["super-resolution"] = new Dictionary<string, double> { ["factor"] = o.SrFactor == 4 ? 1 : 0 } };
            try
            {
                inverse = GeneratorComparison.SolveHeldout(prior, x, corruptions, solvers, o.SigmaY, corruptionParameters: parameters,
                    report: r => Log($"{r.Corruption} {r.Solver}: PSNR {r.Psnr:F2} SSIM {r.Ssim:F3} ({r.Seconds:F0} s)"));
            }
            catch (SolverException e) { throw new CliUsageException(e.Message); }
        }

        var notes = Notes(o, heldout.Count, training.Count);
        if (o.Figures is { } figures) WriteFigures(figures, measured, inverse, heldout, sets.Select(s => (s.GridName, s.Set.Images)));
        if (o.BesideHeldout is { } besideFolder) WriteBesideHeldout(besideFolder, heldout, sets.Select(s => (s.GridName, s.Set.Images)));
        if (o.Markdown is { } markdown) WriteMarkdown(markdown, rows, inverse, notes);
        if (o.Json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { Properties = rows, Inverse = inverse, Notes = notes }, JsonOptions));
            return 0;
        }
        var table = new Table().AddColumns("images", "model", "steps", "sharpness", "diversity", "nearest training image", "copied", "precision", "recall");
        foreach (var r in rows)
            table.AddRow([.. PropertyCells(r).Select(Markup.Escape)]);
        AnsiConsole.Write(table);
        if (inverse.Count > 0)
        {
            var (header, lines) = InverseTable(inverse);
            var solverTable = new Table().AddColumns(header.Select(Markup.Escape).ToArray());
            foreach (var line in lines) solverTable.AddRow(line.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(solverTable);
        }
        foreach (var note in notes) AnsiConsole.WriteLine(note);
        if (o.Markdown is { } written) AnsiConsole.MarkupLineInterpolated($"wrote {written}");
        if (o.BesideHeldout is { } beside) AnsiConsole.MarkupLineInterpolated($"wrote the sample grids beside held-out images to {beside}");
        if (o.Figures is { } folder) AnsiConsole.MarkupLineInterpolated($"wrote properties.json{(inverse.Count > 0 ? ", inverse.json" : "")} and sample grids to {folder}");
        return 0;
    }

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The generator cards named in the list: a name in the models folder or a path to a card.</summary>
    static List<(string Path, GeneratorCard Card)> Cards(string list, ModelsLocation location, bool defaults, Action<string> log)
    {
        var cards = new List<(string, GeneratorCard)>();
        foreach (var item in list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var path = item.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? Path.GetFullPath(item) : Path.Combine(location.Models, item + ".json");
            if (!File.Exists(path))
            {
                // The plain GAN ships as its training history only, so a default list may name a card that is not there.
                if (defaults) { log($"no {path}: skipped"); continue; }
                throw new CliUsageException($"--generators: no card {path}");
            }
            cards.Add((path, GeneratorCheckpoints.ReadCard(path)));
        }
        return cards;
    }

    static string Label(GeneratorCard card) => card.Kind == GeneratorKind.Vae ? "VAE" : card.Objective == "gan-plain" ? "GAN (plain)" : "GAN (hinge + SN)";

    static string F(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    static IEnumerable<string> PropertyCells(MeasuredRow r) =>
    [
        r.Name, r.Model ?? "", r.Steps?.ToString(CultureInfo.InvariantCulture) ?? "", F(r.Properties.Sharpness), F(r.Properties.Diversity),
        F(r.Properties.NearestTrainingDistance), r.Properties.CopiedShare.ToString("0%", CultureInfo.InvariantCulture), F(r.Properties.Precision), F(r.Properties.Recall),
    ];

    /// <summary>One line per corruption, one column per solver: "PSNR / SSIM".</summary>
    static (string[] Header, List<string[]> Lines) InverseTable(List<InverseProblemRow> rows)
    {
        var solvers = rows.Select(r => r.Solver).Distinct().ToList();
        var header = new[] { "corruption" }.Concat(solvers.Select(s => Engine.Methods.SolverCatalog.Find(s)?.DisplayName ?? s)).ToArray();
        var lines = rows.Select(r => r.Corruption).Distinct().Select(c => new[] { Engine.Methods.OperatorCatalog.Find(c)?.DisplayName ?? c }.Concat(solvers.Select(s =>
            rows.FirstOrDefault(r => r.Corruption == c && r.Solver == s) is { } r ? $"{r.Psnr.ToString("0.0", CultureInfo.InvariantCulture)} / {r.Ssim.ToString("0.000", CultureInfo.InvariantCulture)}" : "")).ToArray()).ToList();
        return (header, lines);
    }

    static List<string> Notes(Settings o, long heldout, long training)
    {
        var notes = new List<string>
        {
            $"{o.Samples} samples of each against the first {heldout / 2} of {heldout} held-out images of {o.Data}; 'data' is the other {heldout - heldout / 2}, what real images score. " +
            "Sharpness and diversity are the samples' Laplacian energy and mean pairwise distance ÷ the reference's (1 = like the data); nearest training image is the mean distance " +
            $"to the closest of the {training} training images ÷ the reference's (well below 1 = copies); copied is the share closer to a training image than any held-out image is.",
            $"Precision and recall in the sense of Kynkäänniemi et al. 2019, k = {o.Neighbours}, Euclidean distance in pixel space. Codes z and sampler noise from seed {o.Seed}.",
        };
        if (o.Inverse)
            notes.Add($"PSNR (dB) / SSIM: means over {o.Images} held-out images (from the second half), σ_y = {o.SigmaY.ToString(CultureInfo.InvariantCulture)}, one y per corruption shared by every solver, " +
                      $"each solver at its catalog defaults (steps included); super-resolution ×{o.SrFactor}.");
        return notes;
    }

    static void WriteMarkdown(string file, List<MeasuredRow> rows, List<InverseProblemRow> inverse, List<string> notes)
    {
        var text = new StringBuilder();
        text.AppendLine("# Generators beside the diffusion prior: `generators` figures").AppendLine();
        var command = string.Join(" ", Environment.GetCommandLineArgs().Skip(1).Select(a => a.Contains(' ') ? $"\"{a}\"" : a));
        text.AppendLine($"Written by `dotnet run --project DiffusionLab.Cli -- {command}` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.").AppendLine();
        text.AppendLine("| images | model | steps | sharpness | diversity | nearest training image | copied | precision | recall |");
        text.AppendLine("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var r in rows) text.AppendLine("| " + string.Join(" | ", PropertyCells(r)) + " |");
        if (inverse.Count > 0)
        {
            var (header, lines) = InverseTable(inverse);
            text.AppendLine().AppendLine("| " + string.Join(" | ", header) + " |");
            text.AppendLine("| --- |" + string.Concat(header.Skip(1).Select(_ => " --- |")));
            foreach (var line in lines) text.AppendLine("| " + string.Join(" | ", line) + " |");
        }
        text.AppendLine();
        foreach (var note in notes) text.AppendLine($"- {note}");
        var folder = Path.GetDirectoryName(Path.GetFullPath(file));
        if (folder is not null) Directory.CreateDirectory(folder);
        File.WriteAllText(file, text.ToString());
    }

    /// <summary>The page's files: properties.json and inverse.json in the engine's row format, 64-image grids of the data and of each set.</summary>
    static void WriteFigures(string folder, List<PropertiesRow> properties, List<InverseProblemRow> inverse, ImageFolderDataset heldout, IEnumerable<(string Name, Tensor Images)> sets)
    {
        Directory.CreateDirectory(folder);
        var json = new JsonSerializerOptions { WriteIndented = true };
        File.WriteAllText(Path.Combine(folder, "properties.json"), JsonSerializer.Serialize(properties, json));
        if (inverse.Count > 0) File.WriteAllText(Path.Combine(folder, "inverse.json"), JsonSerializer.Serialize(inverse, json));
        long half = heldout.Count / 2;
        using (var data = heldout.Images.narrow(0, half, Math.Min(64, heldout.Count - half)))
            ImageCodec.WriteFile(Path.Combine(folder, "samples-heldout.png"), data, columns: 8, scale: 2);
        foreach (var (name, images) in sets)
        {
            using var shown = images.narrow(0, 0, Math.Min(64, images.shape[0]));
            ImageCodec.WriteFile(Path.Combine(folder, $"samples-{name}.png"), shown, columns: 8, scale: 2);
        }
    }

    /// <summary>
    /// Grids of 8 rows: 4 samples, a white column, 4 held-out images (from the measured half), so a
    /// reader sees the generator's images next to real ones at the same scale.
    /// </summary>
    static void WriteBesideHeldout(string folder, ImageFolderDataset heldout, IEnumerable<(string Name, Tensor Images)> sets)
    {
        const int rows = 8, perSide = 4;
        Directory.CreateDirectory(folder);
        long half = heldout.Count / 2;
        foreach (var (name, images) in sets)
        {
            using var scope = NewDisposeScope();
            int n = (int)Math.Min(rows * perSide, Math.Min(images.shape[0], heldout.Count - half)) / perSide * perSide;
            if (n == 0) continue;
            var real = heldout.Images.narrow(0, half, n);
            var blank = ones([1, .. images.shape[1..]]);
            var tiles = new List<Tensor>();
            for (int row = 0; row < n / perSide; row++)
            {
                tiles.Add(images.narrow(0, row * perSide, perSide));
                tiles.Add(blank);
                tiles.Add(real.narrow(0, row * perSide, perSide));
            }
            ImageCodec.WriteFile(Path.Combine(folder, $"samples-{name}.png"), cat(tiles, 0), columns: 2 * perSide + 1, scale: 2);
        }
    }
}
