using Bunit;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Features.Shared;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;
using System.Collections.Immutable;

namespace DiffusionLab.Tests.Web;

/// <summary>The lab's pickers and parameter editors, rendered with bUnit over a small catalog of their own.</summary>
public sealed class LabPickerTests : IAsyncLifetime
{
    static readonly ParameterDefinition BoxSize = new("size", "Box size", 2, 24, 12, "Side of the hidden square.", IsInteger: true, Unit: "pixels");
    static readonly ParameterDefinition BlurWidth = new("sigma", "Blur width", 0.5, 8, 2, "Standard deviation of the blur.", Unit: "pixels");
    static readonly ParameterDefinition Zeta = new("zeta", "ζ (guidance step)", 0, 20, 0.5, "How hard each step is pushed toward y.");

    static OperatorDescriptor Operator(string id, string name, ParameterDefinition parameter) =>
        new(id, name, $"{name} explained in plain words.", true, [parameter], (_, _, _) => throw new NotSupportedException());

    static readonly SolverDescriptor Dps = new("dps", "DPS", "DPS explained in plain words.", SolverFamily.Posterior, false, 250, 1000, [Zeta],
        corruption => corruption switch
        {
            "box-inpainting" => new Dictionary<string, double> { ["zeta"] = 1.0 },
            "gaussian-blur" => new Dictionary<string, double> { ["zeta"] = 0.3 },
            _ => new Dictionary<string, double>(),
        },
        _ => throw new NotSupportedException());

    readonly BunitContext context = new();
    readonly LabForm form;

    public LabPickerTests()
    {
        context.Services.AddMudServices();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
        var catalog = new LabCatalog(
            [new PriorInfo("gmm-image", "Mixture", "test images", [3, 32, 32])],
            [Operator("box-inpainting", "Box inpainting", BoxSize), Operator("gaussian-blur", "Gaussian blur", BlurWidth)],
            [Dps]);
        form = new LabForm(catalog);
        form.Load(ExperimentSpec.Default with { Prior = "gmm-image", Image = "sample:0", Corruption = "box-inpainting", Solver = "dps" });
    }

    [Fact]
    public void A_value_outside_its_bounds_shows_the_parameters_own_message_beside_the_field()
    {
        var value = 12.0;
        var editor = context.Render<ParameterEditor>(p => p
            .Add(e => e.Definition, BoxSize)
            .Add(e => e.Field, "corruption.size")
            .Add(e => e.Value, value)
            .Add(e => e.ValueChanged, v => value = v));
        Assert.Empty(editor.FindAll(".field-error"));

        editor.Find("input[data-testid='corruption.size']").Input("40");

        Assert.Equal(40, value);
        editor.Render(p => p.Add(e => e.Value, value).Add(e => e.Error, BoxSize.Validate(value)));
        Assert.Contains("Box size must be between 2 and 24 pixels.", editor.Find(".field-error").TextContent);
    }

    [Fact]
    public void The_corruption_picker_shows_a_message_when_a_parameter_is_typed_out_of_range()
    {
        var picker = context.Render<CorruptionPicker>(p => p.Add(c => c.Form, form));
        Assert.Contains("Box inpainting explained", picker.Find("[data-testid=corruption-explanation]").TextContent);

        picker.Find("input[data-testid='corruption.size']").Input("1");

        picker.WaitForAssertion(() =>
        {
            Assert.Equal("Box size must be between 2 and 24 pixels.", form.ErrorFor("corruption.size"));
            Assert.Contains(picker.FindAll(".field-error"), e => e.TextContent.Contains("Box size must be between 2 and 24 pixels."));
        }, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void A_negative_sigma_y_is_refused_next_to_its_field()
    {
        var picker = context.Render<CorruptionPicker>(p => p.Add(c => c.Form, form));

        picker.Find("input[data-testid=sigmaY]").Input("-0.5");

        // MudNumericField hands the typed value on asynchronously: on a loaded machine it can land after Input returns.
        picker.WaitForAssertion(() =>
        {
            Assert.NotNull(form.ErrorFor("sigmaY"));
            Assert.Contains(picker.FindAll(".field-error"), e => e.TextContent.Contains("between 0 and 1"));
        }, TimeSpan.FromSeconds(10));
        Assert.Contains("[-1, 1] scale", picker.Markup);
    }

    [Fact]
    public void Poisson_noise_offers_its_photon_scale_instead_of_sigma_y_and_a_link_keeps_it()
    {
        var picker = context.Render<CorruptionPicker>(p => p.Add(c => c.Form, form));
        Assert.Empty(picker.FindAll("input[data-testid=poissonRate]"));

        form.Edit("noise", s => s with { Noise = "poisson" });
        picker.Render();

        Assert.Empty(picker.FindAll("input[data-testid=sigmaY]"));
        Assert.Equal("100", picker.Find("input[data-testid=poissonRate]").GetAttribute("value"));
        Assert.Contains("counts photons", picker.Find("[data-testid=noise-explanation]").TextContent);
        picker.Find("input[data-testid=poissonRate]").Input("0.5");
        picker.WaitForAssertion(() =>
        {
            Assert.NotNull(form.ErrorFor("poissonRate"));
            Assert.Contains(picker.FindAll(".field-error"), e => e.TextContent.Contains("between 1 and 100000"));
        }, TimeSpan.FromSeconds(10));

        // What the field holds travels in the link and comes back from it.
        form.Edit("poissonRate", s => s with { PoissonRate = 250 });
        var link = form.Spec.ToQueryString();
        Assert.Contains("rate=250", link);
        var reopened = new LabForm(form.Catalog);
        Assert.Empty(reopened.Load(ExperimentSpec.Parse(link).Spec!));
        Assert.Equal("poisson", reopened.Spec.Noise);
        Assert.Equal(250, reopened.Spec.PoissonRate);
        Assert.Equal(form.Spec, reopened.Spec);
    }

    [Fact]
    public void Copy_link_promises_the_result_on_screen_only_while_the_controls_still_match_its_run()
    {
        var ran = form.Spec;
        Assert.Contains("reproduces this result", DiffusionLab.Web.Features.Lab.Lab.ShareMessage(false, ran, form.Spec));

        form.Edit("seed", s => s with { Seed = ran.Seed + 1 });
        var changed = DiffusionLab.Web.Features.Lab.Lab.ShareMessage(false, ran, form.Spec);
        Assert.DoesNotContain("reproduces this result", changed);
        Assert.Contains("changed since the run on screen", changed);
        Assert.DoesNotContain("result", DiffusionLab.Web.Features.Lab.Lab.ShareMessage(false, null, form.Spec)); // nothing run yet
        Assert.Contains("cannot carry your uploaded image", DiffusionLab.Web.Features.Lab.Lab.ShareMessage(true, ran, ran));
    }

    [Fact]
    public void Choosing_another_corruption_resets_the_solver_to_that_tasks_defaults()
    {
        var solverPicker = context.Render<SolverPicker>(p => p.Add(c => c.Form, form));
        Assert.Equal("1", solverPicker.Find("input[data-testid='solver.zeta']").GetAttribute("value"));

        form.SelectCorruption("gaussian-blur");
        solverPicker.Render();

        Assert.Equal(0.3, form.Spec.SolverParameters["zeta"]);
        Assert.Equal("0.3", solverPicker.Find("input[data-testid='solver.zeta']").GetAttribute("value"));
        Assert.Equal(BlurWidth.Default, form.Spec.CorruptionParameters["sigma"]);
        Assert.False(form.Spec.CorruptionParameters.ContainsKey("size"));
    }

    [Fact]
    public void A_link_naming_a_prior_this_server_lacks_falls_back_to_the_default_prior_and_one_of_its_images()
    {
        var fresh = new LabForm(form.Catalog);

        var notes = fresh.Load(ExperimentSpec.Default with { Prior = "no-such-model", Image = "gallery:0", Corruption = "box-inpainting", Solver = "dps" });

        Assert.Equal("gmm-image", fresh.Spec.Prior);
        Assert.Equal("sample:0", fresh.Spec.Image);
        Assert.Null(fresh.ErrorFor("image"));
        Assert.Null(fresh.ErrorFor("prior"));
        var note = Assert.Single(notes);
        Assert.Contains("'no-such-model'", note);
        Assert.Contains("Mixture is shown instead", note);
    }

    [Fact]
    public void A_link_naming_an_unknown_corruption_solver_or_image_gets_the_defaults_and_a_note_for_each()
    {
        var fresh = new LabForm(form.Catalog);

        var notes = fresh.Load(ExperimentSpec.Default with
        {
            Prior = "gmm-image",
            Image = "sample:99",
            Corruption = "blurr",
            Solver = "dpss",
            Steps = 7,
            CorruptionParameters = ImmutableSortedDictionary.CreateRange(new Dictionary<string, double> { ["radius"] = 3 }),
            SolverParameters = ImmutableSortedDictionary.CreateRange(new Dictionary<string, double> { ["eta"] = 0.5 }),
        });

        Assert.Equal("box-inpainting", fresh.Spec.Corruption);
        Assert.Equal("dps", fresh.Spec.Solver);
        Assert.Equal(250, fresh.Spec.Steps); // the link's steps were for a solver this lab lacks
        Assert.Equal(1.0, fresh.Spec.SolverParameters["zeta"]); // DPS's setting for box inpainting, not its generic default
        Assert.Equal("sample:0", fresh.Spec.Image);
        Assert.False(fresh.HasErrors); // the unknown methods' settings are not carried over to their replacements
        Assert.False(fresh.Spec.CorruptionParameters.ContainsKey("radius"));
        Assert.False(fresh.Spec.SolverParameters.ContainsKey("eta"));
        Assert.Equal(3, notes.Count);
        Assert.Contains(notes, n => n.Contains("corruption called 'blurr'") && n.Contains("Box inpainting is shown instead"));
        Assert.Contains(notes, n => n.Contains("solver called 'dpss'") && n.Contains("DPS is shown instead"));
        Assert.Contains(notes, n => n.Contains("'sample:99'"));
    }

    [Fact]
    public void A_link_that_names_only_known_things_gets_no_notes()
    {
        var fresh = new LabForm(form.Catalog);

        Assert.Empty(fresh.Load(ExperimentSpec.Default with { Prior = "gmm-image", Image = "sample:0", Corruption = "gaussian-blur", Solver = "dps" }));
        Assert.Empty(fresh.Load(ExperimentSpec.Default with { Prior = "gmm-image" })); // the default "gallery:0" means "the first image"
        Assert.Equal("sample:0", fresh.Spec.Image);
    }

    [Fact]
    public void The_solver_picker_explains_the_solver_and_refuses_too_many_steps()
    {
        var picker = context.Render<SolverPicker>(p => p.Add(c => c.Form, form));
        Assert.Contains("DPS explained in plain words.", picker.Find("[data-testid=solver-explanation]").TextContent);

        picker.Find("input[data-testid=steps]").Input("5000");

        Assert.Equal("Steps must be between 1 and 1000 for DPS.", form.ErrorFor("steps"));
        Assert.Contains(picker.FindAll(".field-error"), e => e.TextContent.Contains("Steps must be between 1 and 1000 for DPS."));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    // MudBlazor's services are only asynchronously disposable.
    public Task DisposeAsync() => context.DisposeAsync().AsTask();

    [Fact]
    public void A_larger_prior_s_pixel_lengths_default_to_the_same_share_of_its_image_in_the_editor()
    {
        var hole = new ParameterDefinition("box-size", "Box size", 2, 200, 16, "Side of the hidden square.", IsInteger: true, Unit: "pixels", ScalesWithImage: true);
        var catalog = new LabCatalog(
            [new PriorInfo("small", "Small", "32 px", [3, 32, 32]), new PriorInfo("large", "Large", "256 px grey", [1, 256, 256])],
            [Operator("box-inpainting", "Box inpainting", hole), Operator("gaussian-blur", "Gaussian blur", BlurWidth)],
            [Dps]);
        var sized = new LabForm(catalog);
        sized.Load(ExperimentSpec.Default with { Prior = "large", Image = "sample:0", Corruption = "gaussian-blur", Solver = "dps" });

        sized.SelectCorruption("box-inpainting");
        Assert.Equal(128, sized.Spec.CorruptionParameters["box-size"]); // 16 of 32 pixels is 128 of 256
        var picker = context.Render<CorruptionPicker>(p => p.Add(c => c.Form, sized));
        Assert.Equal("128", picker.Find("input[data-testid='corruption.box-size']").GetAttribute("value"));

        sized.SelectPrior("small");
        Assert.Equal(16, sized.Spec.CorruptionParameters["box-size"]); // back to the smaller image's share
        sized.SetCorruptionValue("box-size", 10);
        sized.SelectPrior("large");
        Assert.Equal(128, sized.Spec.CorruptionParameters["box-size"]);
        Assert.Equal(1.0, sized.Spec.SolverParameters["zeta"]); // the solver's settings do not depend on the image side
    }
}
