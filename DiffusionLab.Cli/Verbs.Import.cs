using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using Spectre.Console.Cli;
using System.ComponentModel;

namespace DiffusionLab.Cli;

sealed class ImportVerb : Command<ImportVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--format <FORMAT>")]
        [Help("mirror (what tools/gpu-train/train_unet.py writes), guided-diffusion (an ADM UNet's .pt and its flags) or diffusers (a UNet2DModel folder)")]
        [DefaultValue("mirror")]
        public string Format { get; set; } = "mirror";

        [CommandOption("--from <DIR>")]
        [Help("mirror: what train_unet.py wrote (NAME.safetensors, NAME.training.json, its reference outputs); diffusers: the folder with config.json, " +
              "diffusion_pytorch_model.safetensors or .bin, and scheduler_config.json")]
        public string? From { get; set; }

        [CommandOption("--weights <FILE>")]
        [Help("guided-diffusion: the .pt state dict (float16 weights are read as float32)")]
        public string? Weights { get; set; }

        [CommandOption("--flags <FILE>")]
        [Help("guided-diffusion: the model flags as JSON or YAML, named as DPS's configs/model_config.yaml names them")]
        public string? Flags { get; set; }

        [CommandOption("--probe <FILE>")]
        [Help("guided-diffusion, diffusers: safetensors with F32 x [B,C,H,W], t [B] and epsilon [B,C,H,W] computed by the authors' code; " +
              "the import refuses unless TorchSharp's ε is within the tolerance of it")]
        public string? Probe { get; set; }

        [CommandOption("--source <TEXT>")]
        [Help("guided-diffusion, diffusers: where the weights came from, for the model card (default: the file or folder name)")]
        public string? Source { get; set; }

        [CommandOption("--licence <TEXT>")]
        [Help("guided-diffusion, diffusers: the licence as the weights' authors state it, for the model card (diffusers: read from the folder's README.md when it says)")]
        public string? Licence { get; set; }

        [CommandOption("--name <NAME>")]
        [Help("the model's name (required)")]
        public string? Name { get; set; }

        [CommandOption("--data <DIR>")]
        [Help("the data set it was trained on (train/ and heldout/): for the held-out loss and the data credits on the card")]
        public string? Data { get; set; }

        [CommandOption("--out <DIR>")]
        [Help("where the card and weights go (default: the models folder, searched for as the tool's --help says)")]
        public string? Out { get; set; }

        [CommandOption("--tolerance <EPS>")]
        [Help("mirror: largest difference allowed between TorchSharp's and PyTorch's predicted noise; guided-diffusion, diffusers: the same relative to the probe's mean |ε| (default 1e-4 for both)")]
        public double? Tolerance { get; set; }
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        switch (o.Format)
        {
            case "mirror": return ImportMirror(o);
            case "guided-diffusion" or "diffusers": return ImportForeign(o);
            default: throw new CliUsageException($"--format {o.Format}: the formats are mirror, guided-diffusion and diffusers");
        }
    }

    static int ImportForeign(Settings o)
    {
        if (o.Name is not { } name) throw new CliUsageException($"import --format {o.Format} needs --name NAME");
        if (name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0 || name.Contains("..") || name.Trim() != name || name.Length == 0)
            throw new CliUsageException($"--name {name}: a model name is a plain file name");
        if (o.Data is not null) throw new CliUsageException("--data is for --format mirror (the held-out loss of a network trained here)");
        var output = o.Out ?? ModelsLocation.Resolve(null).Models;
        double tolerance = o.Tolerance ?? ForeignCheckpoints.DefaultRelativeTolerance;
        ForeignImportResult result;
        try
        {
            if (o.Format == "guided-diffusion")
            {
                if (o.Weights is not { } weights || o.Flags is not { } flags) throw new CliUsageException("import --format guided-diffusion needs --weights FILE.pt and --flags FILE");
                if (o.From is not null) throw new CliUsageException("--from is for --format diffusers and mirror; guided-diffusion takes --weights and --flags");
                result = ForeignCheckpoints.ImportGuidedDiffusion(weights, flags, name, output, o.Probe, o.Source, o.Licence, tolerance);
            }
            else
            {
                if (o.From is not { } folder) throw new CliUsageException("import --format diffusers needs --from FOLDER (config.json, the weights and scheduler_config.json)");
                if (o.Weights is not null || o.Flags is not null) throw new CliUsageException("--weights and --flags are for --format guided-diffusion; diffusers reads the folder given with --from");
                result = ForeignCheckpoints.ImportDiffusers(folder, name, output, o.Probe, o.Source, o.Licence, tolerance);
            }
        }
        catch (CheckpointException e) { throw new CliUsageException(e.Message); }
        var card = result.Card;
        Console.WriteLine($"{card.Name}: {card.Architecture}, {card.ImageSize}×{card.ImageSize}×{card.Channels}, {card.ParameterCount:N0} parameters, " +
                          $"{card.ScheduleKind} schedule over {card.ScheduleSteps} steps, prediction {card.Prediction}");
        Console.WriteLine(result.MaxDifference is { } d
            ? $"probe: largest |ε difference| {d:G3}, mean |ε| {result.MeanEpsilon:G3} (relative {d / result.MeanEpsilon!.Value:G2}, allowed {tolerance:G2})"
            : "no --probe given: the weights fit the network name by name and shape by shape, but nothing checked that they compute what their authors' code does");
        Console.WriteLine($"licence: {card.Licence}");
        Console.WriteLine($"wrote {Path.Combine(output, card.Name + ".json")} and {card.WeightsFile} (sha256 {card.WeightsSha256})");
        return 0;
    }

    static int ImportMirror(Settings o)
    {
        if (o.From is not { } from || o.Name is not { } name) throw new CliUsageException("import needs --from DIR (what train_unet.py wrote) and --name NAME");
        if (o.Weights is not null || o.Flags is not null || o.Probe is not null)
            throw new CliUsageException("--weights, --flags and --probe are for --format guided-diffusion or diffusers; a mirror import reads its probe from --from");
        var output = o.Out ?? ModelsLocation.Resolve(null).Models;
        double tolerance = o.Tolerance ?? CheckpointImport.DefaultTolerance;
        var data = o.Data ?? "";
        ImageFolderDataset? heldout = null;
        DatasetInfo? dataset = null;
        if (data != "")
        {
            var heldoutFolder = Path.Combine(data, "heldout");
            if (!Directory.Exists(heldoutFolder)) throw new CliUsageException($"--data {data}: no heldout/ folder to measure the held-out loss on");
            var record = CheckpointImport.ReadRecord(Path.Combine(from, name + ".training.json"));
            // A class-conditional network is also measured told each held-out image's class (the card's classHeldoutLoss).
            var classes = record.Config.ClassCount > 0 ? TrainVerb.ReadClasses(data) : null;
            if (classes is not null && !classes.Names.SequenceEqual(record.Config.ClassNames!))
                throw new CliUsageException($"{Path.Combine(data, ImageClasses.FileName)} lists the classes {string.Join(", ", classes.Names)}; {name} learned {string.Join(", ", record.Config.ClassNames!)}");
            heldout = ImageFolderDataset.Load(heldoutFolder, record.Config.ImageSize, record.Config.Channels, limit: 256, classes);
            dataset = GeneratorTraining.DescribeDataset(data, Path.Combine(data, "train"), heldoutFolder);
        }
        using (heldout)
        {
            ImportResult result;
            try { result = CheckpointImport.Import(from, name, output, heldout, dataset, tolerance); }
            catch (CheckpointException e) { throw new CliUsageException(e.Message); }
            var card = result.Card;
            Console.WriteLine($"{card.Name}: {card.ParameterCount:N0} parameters, step {card.TrainingSteps}; TorchSharp's ε within {result.MaxEpsilonDifference:G2} of PyTorch's (mean |ε| {result.ReferenceEpsilonScale:F2})");
            if (card.HeldoutLoss.Count > 0)
                Console.WriteLine("held-out loss " + TrainVerb.FormatLoss(card.HeldoutLoss) + (card.ClassHeldoutLoss is null ? "" : $"; told the class {TrainVerb.FormatLoss(card.ClassHeldoutLoss)}"));
            Console.WriteLine($"wrote {Path.Combine(output, card.Name + ".json")} and {card.WeightsFile} (sha256 {card.WeightsSha256})");
        }
        return 0;
    }
}
