using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using Spectre.Console.Cli;
using System.ComponentModel;

namespace DiffusionLab.Cli;

sealed class ImportVerb : Command<ImportVerb.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--from <DIR>")]
        [Help("what train_unet.py wrote: NAME.safetensors, NAME.training.json and its reference outputs (required)")]
        public string? From { get; set; }

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
        [Help("largest difference allowed between TorchSharp's and PyTorch's predicted noise")]
        [DefaultValue(CheckpointImport.DefaultTolerance)]
        public double Tolerance { get; set; } = CheckpointImport.DefaultTolerance;
    }

    public override int Execute(CommandContext context, Settings o, CancellationToken cancellation)
    {
        if (o.From is not { } from || o.Name is not { } name) throw new CliUsageException("import needs --from DIR (what train_unet.py wrote) and --name NAME");
        var output = o.Out ?? ModelsLocation.Resolve(null).Models;
        double tolerance = o.Tolerance;
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
