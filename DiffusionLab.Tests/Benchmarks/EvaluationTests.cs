using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Tests.Benchmarks;

/// <summary>The results table: its statistics, and each image's numbers being those of its own lab run.</summary>
public class EvaluationTests
{
    static readonly Runner Runner = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    [Fact]
    public void The_standard_error_is_the_sample_deviation_over_the_square_root_of_n()
    {
        // 1, 2, 3, 4: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, s² = 5/3, SE = √(5/3/4) = √(5/12).
        var stat = MeanAndError.Of([1, 2, 3, 4]);
        Assert.Equal(2.5, stat.Mean, 12);
        Assert.Equal(Math.Sqrt(5.0 / 12), stat.StandardError, 12);
        Assert.Equal(new MeanAndError(7, 0), MeanAndError.Of([7]));
        Assert.True(double.IsNaN(MeanAndError.Of([]).Mean));
    }

    [Fact]
    public void A_batched_cell_gives_every_image_the_numbers_of_its_own_lab_run()
    {
        var evaluation = new Evaluation(Runner);
        var solver = SolverCatalog.Find("sdedit")!;
        var task = EvaluationTask.Find("sr4")!;
        var images = evaluation.Images(PriorCatalog.ImageDemoId, 3);
        Assert.Equal(["sample:0", "sample:1", "sample:2"], images);
        var shares = new List<double>();
        var cell = evaluation.RunCell(PriorCatalog.ImageDemoId, solver, task, steps: 3, images, batch: 2, progress: shares.Add);

        var alone = images.Select((image, i) =>
        {
            using var run = Runner.Prepare(Evaluation.Spec(PriorCatalog.ImageDemoId, image, i, solver, task, 3));
            return Runner.Run(run).Last();
        }).ToList();
        Assert.Null(cell.Failure);
        Assert.Equal(3, cell.Images);
        var psnr = MeanAndError.Of(alone.Select(r => r.Psnr).ToArray());
        Assert.Equal(psnr.Mean, cell.Psnr.Mean, 4);
        Assert.Equal(psnr.StandardError, cell.Psnr.StandardError, 4);
        Assert.Equal(MeanAndError.Of(alone.Select(r => r.Residual).ToArray()).Mean, cell.Residual.Mean, 3);
        Assert.Equal(alone[0].NetworkEvaluations, cell.NetworkEvaluations);
        Assert.True(cell.SecondsPerImage > 0);
        Assert.Equal(1, shares[^1]);
        Assert.True(shares.Zip(shares.Skip(1)).All(p => p.Second >= p.First), "progress only moves forward");
    }

    [Fact]
    public void A_solver_that_refuses_the_task_gives_a_cell_with_its_message()
    {
        var evaluation = new Evaluation(Runner);
        var cell = evaluation.RunCell(PriorCatalog.ImageDemoId, SolverCatalog.Find("hqs")!, EvaluationTask.Find("denoise")!, 1,
            ["gallery:no-such-image"]);
        Assert.NotNull(cell.Failure);
        Assert.True(double.IsNaN(cell.SecondsPerImage));
    }

    [Fact]
    public void The_results_file_keeps_the_last_line_of_a_key_and_ignores_a_torn_one()
    {
        var folder = Directory.CreateTempSubdirectory("diffusionlab-eval-").FullName;
        try
        {
            var first = new EvaluationCell("p", "dps", "sr4", 10, 2, new(20, 1), new(0.5, 0.1), new(3, 0.2), 20, 0.5);
            EvaluationResults.AppendCell(folder, first);
            EvaluationResults.AppendCell(folder, first with { Psnr = new(21, 1) });
            EvaluationResults.AppendCell(folder, first with { Task = "denoise" });
            EvaluationResults.AppendCell(folder, first with { Variant = "spacing=1" });
            File.AppendAllText(Path.Combine(folder, EvaluationResults.CellsFile), "{\"prior\":\"p\",\"sol");
            var all = EvaluationResults.ReadCells(folder);
            Assert.Equal(3, all.Count); // a changed setting is a measurement of its own
            Assert.Equal("dps (spacing=1)", all.Single(c => c.Variant.Length > 0).Method);
            var cells = all.Where(c => c.Variant.Length == 0).ToArray();
            Assert.Equal(2, cells.Length);
            Assert.Equal(21, cells.Single(c => c.Task == "sr4").Psnr.Mean);

            EvaluationResults.WriteTable(folder, new EvaluationTable("p", 2, DateTimeOffset.UnixEpoch, "evaluate", "test", cells));
            var table = EvaluationResults.ReadTable(Path.Combine(folder, EvaluationResults.TableFile))!;
            Assert.Equal(cells, table.Cells);
            var markdown = File.ReadAllLines(Path.Combine(folder, EvaluationResults.MarkdownFile));
            Assert.Equal(2, markdown.Count(l => l.StartsWith("| ×4 super-resolution", StringComparison.Ordinal) || l.StartsWith("| denoising", StringComparison.Ordinal)));
            Assert.Contains("21.00 ± 1.00", markdown.Single(l => l.Contains("super-resolution", StringComparison.Ordinal)));
            Assert.Equal(3, File.ReadAllLines(Path.Combine(folder, EvaluationResults.CsvFile)).Length);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
