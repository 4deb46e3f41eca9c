using DiffusionLab.Engine;
using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Training;
using System.Xml.Linq;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Generators;

public sealed class GeneratorHistoryTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-history-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    static GeneratorStep Step(long step, double d, double g) => new(step, new Dictionary<string, double> { ["d_loss"] = d, ["g_loss"] = g, ["d_real"] = d / 2, ["d_fake"] = -d / 2 });

    [Fact]
    public void Buckets_average_their_steps_and_are_named_by_their_last()
    {
        var steps = Enumerable.Range(1, 7).Select(i => Step(i, i, 10 * i)).ToList();
        var summary = GeneratorHistory.Summarise(steps, 3);
        Assert.Equal([3L, 6, 7], summary.Select(s => s.Step));
        Assert.Equal([2.0, 5, 7], summary.Select(s => s.Losses["d_loss"]));
        Assert.Equal([20.0, 50, 70], summary.Select(s => s.Losses["g_loss"]));
        Assert.Throws<ArgumentOutOfRangeException>(() => GeneratorHistory.Summarise(steps, 0));
    }

    [Fact]
    public void A_gan_runs_history_bundles_into_a_csv_two_charts_and_its_grids()
    {
        using var data = new ImageFolderDataset(rand([16, 3, 8, 8]).Times(2).Minus(1), "tiny");
        using var trainer = new GanTrainer(new GanTrainingOptions { ModelName = "tiny", Config = GeneratorConfig.Tiny(), BatchSize = 8 });
        var state = Path.Combine(folder, "state");
        for (int i = 0; i < 6; i++) trainer.TrainStep(data);
        trainer.WriteSampleGrid(Path.Combine(state, "samples", "step-000006.png"));
        trainer.SaveState(state);
        var output = Path.Combine(folder, "bundle");
        var written = GeneratorHistory.Bundle(state, output, "tiny GAN", bucket: 2, gridSteps: [0, 6]);
        Assert.Equal(new[] { "history.csv", "losses.svg", "logits.svg", "grid-000006.png" }, written);
        var summary = GeneratorHistory.Read(output);
        Assert.Equal([2L, 4, 6], summary.Select(s => s.Step));
        var full = GeneratorHistory.Read(state);
        Assert.Equal((full[0].Losses["g_loss"] + full[1].Losses["g_loss"]) / 2, summary[0].Losses["g_loss"], 4);
        var chart = XDocument.Parse(File.ReadAllText(Path.Combine(output, "losses.svg")));
        Assert.Equal(2, chart.Descendants().Count(e => e.Name.LocalName == "polyline"));
        Assert.Throws<TrainingException>(() => GeneratorHistory.Bundle(Path.Combine(folder, "empty"), output, "none", 2, []));
    }

    [Fact]
    public void A_chart_is_well_formed_svg_with_its_words_escaped_and_survives_empty_or_flat_series()
    {
        var svg = LineChartSvg.Render("loss <&> curve", "step", [new("a&b", "#123456", [(0, 1), (1, 1), (2, double.NaN)]), new("empty", "red", [])]);
        var document = XDocument.Parse(svg);
        Assert.Contains("loss <&> curve", document.Root!.Value);
        var line = document.Descendants().Single(e => e.Name.LocalName == "polyline");
        Assert.Equal(2, line.Attribute("points")!.Value.Split(' ').Length);
        XDocument.Parse(LineChartSvg.Render("nothing", "step", []));
    }
}
