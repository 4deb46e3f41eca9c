using Bunit;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Features.Shared;
using MudBlazor.Services;

namespace DiffusionLab.Tests.Web;

/// <summary>A solver's named settings are one click in the solver picker.</summary>
public sealed class SolverPresetPickerTests : IAsyncLifetime
{
    readonly BunitContext context = new();

    public SolverPresetPickerTests()
    {
        context.Services.AddMudServices();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
    }

    [Fact]
    public void Clicking_a_preset_sets_its_values_in_the_spec()
    {
        var catalog = new LabCatalog([new PriorInfo("gmm-image", "Mixture", "test images", [3, 32, 32])],
            OperatorCatalog.All.Where(o => o.Id == "box-inpainting").ToArray(), SolverCatalog.All.Where(s => s.Id == "dps").ToArray());
        var form = new LabForm(catalog);
        form.Load(ExperimentSpec.Default with { Prior = "gmm-image", Image = "sample:0", Corruption = "box-inpainting", Solver = "dps" });
        Assert.Equal(1.5, form.Spec.SolverParameters["zeta"]);

        var picker = context.Render<SolverPicker>(p => p.Add(s => s.Form, form));
        picker.Find("[data-testid='preset-mcgdiff']").Click();
        Assert.Equal(0.2, form.Spec.SolverParameters["zeta"], 12);
        Assert.Equal(1, form.Spec.SolverParameters["clipX0"]);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => context.DisposeAsync().AsTask();
}
