using Bunit;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Web.Features.Results;
using DiffusionLab.Web.Features.Shared;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace DiffusionLab.Tests.Web;

/// <summary>The results page, rendered with bUnit over a results folder of its own.</summary>
public sealed class ResultsPageTests : IAsyncLifetime
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-results-page-").FullName;
    readonly BunitContext context = new();

    public ResultsPageTests()
    {
        context.Services.AddMudServices();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        context.Services.AddSingleton(new ResultsTables(folder));
        context.Services.AddSingleton(new LabCatalog([new PriorInfo("pixel-faces-32", "Pixel faces", "faces", [3, 32, 32])], OperatorCatalog.All, SolverCatalog.All));
    }

    static EvaluationCell Cell(string solver, string task, double psnr, double seconds, string? failure = null) =>
        new("pixel-faces-32", solver, task, 100, 12, new(psnr, 0.4), new(0.8, 0.01), new(2.5, 0.1), 200, seconds, failure);

    [Fact]
    public void Without_a_table_the_page_says_how_to_make_one()
    {
        var page = context.Render<ResultsPage>();
        Assert.Contains("evaluate --prior pixel-faces-32", page.Find("[data-testid='results-empty']").TextContent);
        Assert.Contains("held-out images", page.Find("[data-testid='results-protocol']").TextContent);
        Assert.Empty(page.FindAll("[data-testid='quality-time']"));
    }

    [Fact]
    public void The_table_shows_a_row_per_cell_and_a_mark_per_finished_cell()
    {
        var table = new EvaluationTable("pixel-faces-32", 12, new DateTimeOffset(2026, 12, 1, 13, 50, 0, TimeSpan.Zero), "dotnet run -- evaluate", "2 cores",
        [
            Cell("dps", "sr4", 24.31, 9.5),
            Cell("hqs", "sr4", 21.02, 0.1),
            Cell("dps", "box-inpainting", 26.5, 9.7),
            Cell("score-ald", "box-inpainting", double.NaN, double.NaN, "ScoreALD diverged"),
        ]);
        EvaluationResults.WriteTable(Path.Combine(folder, "pixel-faces-32"), table);

        var page = context.Render<ResultsPage>();
        Assert.Empty(page.FindAll("[data-testid='results-empty']"));
        Assert.Equal(4, page.FindAll("[data-testid='results-rows'] tbody tr").Count);
        Assert.Contains("24.31 ± 0.40", page.Find("[data-testid='row-dps-sr4']").TextContent);
        Assert.Contains("refused: ScoreALD diverged", page.Find("[data-testid='row-score-ald-box-inpainting']").TextContent);
        // One mark per method and task that finished; the refused cell has none.
        Assert.Equal(3, page.FindAll("[data-testid='quality-time'] g.mark").Count);
        Assert.Contains("24.31 ± 0.40 dB", page.Find("[data-testid='mark-dps-sr4'] title").TextContent);
        Assert.Contains("dotnet run -- evaluate", page.Markup);
        Assert.Contains("Pixel faces", page.Find("[data-testid='results-pixel-faces-32'] h3").TextContent);
    }

    [Fact]
    public void A_faster_method_with_higher_psnr_is_drawn_left_of_and_above_a_slower_one()
    {
        var table = new EvaluationTable("pixel-faces-32", 12, DateTimeOffset.UnixEpoch, "evaluate", "2 cores",
            [Cell("dps", "sr4", 20, 10), Cell("hqs", "sr4", 25, 0.1)]);
        EvaluationResults.WriteTable(Path.Combine(folder, "pixel-faces-32"), table);
        var page = context.Render<ResultsPage>();
        (double X, double Y) Centre(string id)
        {
            var circle = page.Find($"[data-testid='mark-{id}-sr4'] circle");
            return (double.Parse(circle.GetAttribute("cx")!, System.Globalization.CultureInfo.InvariantCulture),
                double.Parse(circle.GetAttribute("cy")!, System.Globalization.CultureInfo.InvariantCulture));
        }
        var (slow, fast) = (Centre("dps"), Centre("hqs"));
        Assert.True(fast.X < slow.X, "less time is further left");
        Assert.True(fast.Y < slow.Y, "higher PSNR is higher up (smaller y in SVG)");
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await context.DisposeAsync();
        Directory.Delete(folder, recursive: true);
    }
}
