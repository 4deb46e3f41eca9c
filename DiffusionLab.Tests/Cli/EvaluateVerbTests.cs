using DiffusionLab.Engine.Benchmarks;

namespace DiffusionLab.Tests.Cli;

/// <summary>The evaluate verb on the exact mixture with two tiny cells per task: a row per cell, and a rerun that skips what is done.</summary>
public sealed class EvaluateVerbTests : IDisposable
{
    readonly CliProcess cli = new();

    public void Dispose() => cli.Dispose();

    [Fact]
    public void The_table_has_a_row_per_cell_and_a_rerun_skips_the_cells_already_done()
    {
        string[] arguments = ["evaluate", "--prior", "gmm-image", "--solvers", "sdedit,hqs", "--tasks", "denoise,sr4", "--images", "2", "--steps", "2", "--out", "eval"];
        var first = cli.Run(arguments);
        Assert.True(first.ExitCode == 0, first.ToString());
        var folder = Path.Combine(cli.Folder, "eval");
        var markdown = File.ReadAllLines(Path.Combine(folder, EvaluationResults.MarkdownFile));
        Assert.Equal(4, markdown.Count(l => l.StartsWith("| denoising", StringComparison.Ordinal) || l.StartsWith("| ×4 super-resolution", StringComparison.Ordinal)));
        Assert.Equal(4, File.ReadAllLines(Path.Combine(folder, EvaluationResults.CellsFile)).Length);
        var table = EvaluationResults.ReadTable(Path.Combine(folder, EvaluationResults.TableFile))!;
        Assert.Equal(["denoise|sdedit", "denoise|hqs", "sr4|sdedit", "sr4|hqs"], table.Cells.Select(c => c.Task + "|" + c.Solver));
        Assert.All(table.Cells, c => Assert.True(c.Failure is null && double.IsFinite(c.Psnr.Mean) && c.Images == 2, c.ToString()));

        // A third task on the rerun: only its cells run; the four done ones come from the file unchanged.
        var second = cli.Run([.. arguments.Select(a => a == "denoise,sr4" ? "denoise,sr4,box-inpainting" : a)]);
        Assert.True(second.ExitCode == 0, second.ToString());
        Assert.Equal(6, File.ReadAllLines(Path.Combine(folder, EvaluationResults.CellsFile)).Length);
        var again = EvaluationResults.ReadTable(Path.Combine(folder, EvaluationResults.TableFile))!;
        Assert.Equal(6, again.Cells.Count);
        Assert.Equal(table.Cells, again.Cells.Take(4));
        Assert.Contains("4 of 6 cells came from the results file", second.Flat);
    }

    [Theory]
    [InlineData(new[] { "evaluate", "--tasks", "blur" }, "there is no task 'blur'")]
    [InlineData(new[] { "evaluate", "--solvers", "ddpm" }, "'ddpm' is not a solver of inverse problems")]
    [InlineData(new[] { "evaluate", "--steps", "dps=0" }, "dps takes between 1 and")]
    [InlineData(new[] { "evaluate", "--prior", "nope" }, "there is no prior 'nope'")]
    public void Mistakes_are_one_line_in_words(string[] arguments, string message)
    {
        var result = cli.Run(arguments);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(message, result.Flat);
    }
}
