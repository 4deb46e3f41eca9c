using Bunit;
using DiffusionLab.Engine.Benchmarks;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Web.Features.Generators;
using DiffusionLab.Web.Features.Shared;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;
using System.Text.Json;

namespace DiffusionLab.Tests.Web;

/// <summary>The generators page, rendered with bUnit over a web root of its own.</summary>
public sealed class GeneratorsPageTests : IAsyncLifetime
{
    readonly string webRoot = Directory.CreateTempSubdirectory("diffusionlab-generators-page-").FullName;
    readonly BunitContext context = new();

    sealed class WebRoot(string path) : IWebHostEnvironment
    {
        public string WebRootPath { get; set; } = path;
        public IFileProvider WebRootFileProvider { get; set; } = new NullFileProvider();
        public string ApplicationName { get; set; } = "tests";
        public IFileProvider ContentRootFileProvider { get; set; } = new NullFileProvider();
        public string ContentRootPath { get; set; } = path;
        public string EnvironmentName { get; set; } = "Development";
    }

    public GeneratorsPageTests()
    {
        context.Services.AddMudServices();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        context.Services.AddSingleton<IWebHostEnvironment>(new WebRoot(webRoot));
        context.Services.AddSingleton(new LabCatalog([new PriorInfo("pixel-faces-32", "faces", "faces", [3, 32, 32])], OperatorCatalog.All, SolverCatalog.All));
    }

    void WriteFigures()
    {
        var folder = Path.Combine(webRoot, GeneratorFigures.Folder);
        Directory.CreateDirectory(Path.Combine(folder, "gan-plain-faces-32"));
        File.WriteAllText(Path.Combine(folder, "properties.json"), JsonSerializer.Serialize(new List<PropertiesRow>
        {
            new("data", 256, new SetProperties(0.98, 1.01, 0.99, 0, 0.81, 0.79)),
            new("VAE", 256, new SetProperties(0.31, 0.62, 1.2, 0, 0.5, 0.2)),
        }));
        File.WriteAllText(Path.Combine(folder, "inverse.json"), JsonSerializer.Serialize(new List<InverseProblemRow>
        {
            new("box-inpainting", "csgm-vae", 64, 26.1, 0.91, 80),
            new("box-inpainting", "dps", 64, 32.5, 0.973, 320),
        }));
        File.WriteAllBytes(Path.Combine(folder, "samples-heldout.png"), [1]);
        File.WriteAllBytes(Path.Combine(folder, "gan-plain-faces-32", "grid-000500.png"), [1]);
        File.WriteAllBytes(Path.Combine(folder, "gan-plain-faces-32", "grid-000050.png"), [1]);
        File.WriteAllText(Path.Combine(folder, "gan-plain-faces-32", "losses.svg"), "<svg/>");
    }

    [Fact]
    public void The_page_shows_the_measured_tables_the_runs_history_and_links_with_the_csgm_solvers_preselected()
    {
        WriteFigures();
        var page = context.Render<DiffusionLab.Web.Features.Generators.Generators>();
        var properties = page.Find("[data-testid='generator-properties']");
        Assert.Contains("VAE (256)", properties.TextContent);
        Assert.Contains("0.31", properties.TextContent);
        var inverse = page.Find("[data-testid='generator-inverse']");
        Assert.Contains("26.1 dB / 0.910", inverse.TextContent);
        Assert.Contains("CSGM with the VAE", inverse.TextContent);
        var grids = page.FindAll("[data-testid='history-gan-plain-faces-32'] figure img").Select(i => i.GetAttribute("src")).ToList();
        Assert.Equal(["/generators/gan-plain-faces-32/grid-000050.png", "/generators/gan-plain-faces-32/grid-000500.png"], grids);
        var compare = page.Find("[data-testid='compare-link']").GetAttribute("href")!;
        Assert.StartsWith("/compare?", compare);
        Assert.EndsWith("&solvers=csgm-vae,csgm-gan,dps,hqs", compare);
        Assert.DoesNotContain("steps=", compare);
        Assert.Contains("solver=csgm-gan", page.Find("[data-testid='lab-link']").GetAttribute("href"));
    }

    [Fact]
    public void Without_measurements_the_page_says_so_and_damaged_files_are_ignored()
    {
        var folder = Path.Combine(webRoot, GeneratorFigures.Folder);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "properties.json"), "{ not json");
        var page = context.Render<DiffusionLab.Web.Features.Generators.Generators>();
        Assert.NotNull(page.Find("[data-testid='generators-missing']"));
        Assert.Contains("Not measured yet", page.Markup);
        Assert.Empty(page.FindAll("[data-testid='generator-inverse']"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await context.DisposeAsync();
        Directory.Delete(webRoot, recursive: true);
    }
}
