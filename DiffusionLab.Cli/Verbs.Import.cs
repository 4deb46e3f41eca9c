using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;

namespace DiffusionLab.Cli;

static partial class Verbs
{
    static void Register_Import() => Register("import",
        "bring weights trained by tools/gpu-train/train_unet.py into models/: --from DIR --name NAME [--data DIR (for the held-out loss and the data credits) --out models --tolerance 1e-4]",
        ImportAsync);

    static Task<int> ImportAsync(string[] args)
    {
        var o = new CliOptions(args);
        var from = o.String("from", "");
        var name = o.String("name", "");
        if (from == "" || name == "") throw new CliUsageException("import needs --from DIR (what train_unet.py wrote) and --name NAME");
        var output = o.String("out", "models");
        double tolerance = o.Double("tolerance", CheckpointImport.DefaultTolerance);
        var data = o.String("data", "");
        ImageFolderDataset? heldout = null;
        DatasetInfo? dataset = null;
        if (data != "")
        {
            var heldoutFolder = Path.Combine(data, "heldout");
            if (!Directory.Exists(heldoutFolder)) throw new CliUsageException($"--data {data}: no heldout/ folder to measure the held-out loss on");
            var record = CheckpointImport.ReadRecord(Path.Combine(from, name + ".training.json"));
            // A class-conditional network is also measured told each held-out image's class (the card's classHeldoutLoss).
            var classes = record.Config.ClassCount > 0 ? ReadClasses(data) : null;
            if (classes is not null && !classes.Names.SequenceEqual(record.Config.ClassNames!))
                throw new CliUsageException($"{Path.Combine(data, ImageClasses.FileName)} lists the classes {string.Join(", ", classes.Names)}; {name} learned {string.Join(", ", record.Config.ClassNames!)}");
            heldout = ImageFolderDataset.Load(heldoutFolder, record.Config.ImageSize, record.Config.Channels, limit: 256, classes);
            dataset = DescribeDataset(data, Path.Combine(data, "train"), heldoutFolder);
        }
        using (heldout)
        {
            ImportResult result;
            try { result = CheckpointImport.Import(from, name, output, heldout, dataset, tolerance); }
            catch (CheckpointException e) { throw new CliUsageException(e.Message); }
            var card = result.Card;
            Console.WriteLine($"{card.Name}: {card.ParameterCount:N0} parameters, step {card.TrainingSteps}; TorchSharp's ε within {result.MaxEpsilonDifference:G2} of PyTorch's (mean |ε| {result.ReferenceEpsilonScale:F2})");
            if (card.HeldoutLoss.Count > 0)
                Console.WriteLine("held-out loss " + FormatLoss(card.HeldoutLoss) + (card.ClassHeldoutLoss is null ? "" : $"; told the class {FormatLoss(card.ClassHeldoutLoss)}"));
            Console.WriteLine($"wrote {Path.Combine(output, card.Name + ".json")} and {card.WeightsFile} (sha256 {card.WeightsSha256})");
        }
        return Task.FromResult(0);
    }
}
