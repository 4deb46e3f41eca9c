using Bunit;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Web.Features.Maths;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lab's maths panel, rendered with bUnit: which formulas it hands to KaTeX (the browser test sees
/// them rendered), what it highlights and explains, and what it says for a solver nobody wrote up.
/// </summary>
public sealed class SolverMathsPanelTests : IAsyncLifetime
{
    readonly BunitContext context = new();
    readonly BunitJSModuleInterop module;

    public SolverMathsPanelTests()
    {
        module = context.JSInterop.SetupModule("./Features/Maths/MathsScope.razor.js");
        module.Mode = JSRuntimeMode.Loose;
    }

    static SolverDescriptor Solver(string id) => SolverCatalog.Find(id)!;

    [Fact]
    public void A_posterior_sampler_shows_Bayes_rule_then_its_own_rule_with_the_stand_in_highlighted()
    {
        var panel = context.Render<SolverMathsPanel>(p => p.Add(c => c.Solver, Solver("dps")));

        Assert.Equal("dps", panel.Find("[data-testid=solver-maths]").GetAttribute("data-solver"));
        Assert.Contains("docs/maths.md §5", panel.Find(".maths-title").TextContent);
        var bayes = panel.Find("[data-testid=bayes-rule] [data-tex]").GetAttribute("data-tex")!;
        Assert.Equal(SolverFormulas.BayesRule.Tex, bayes);
        var lines = panel.FindAll("[data-testid=maths-line] [data-tex]").Select(e => e.GetAttribute("data-tex")).ToList();
        Assert.Equal(SolverFormulas.For("dps")!.Lines.Select(l => l.Tex), lines);
        Assert.All(panel.FindAll("[data-testid=maths-line] [data-tex], [data-testid=bayes-rule] [data-tex]"),
            e => Assert.Equal("true", e.GetAttribute("data-display")));
        Assert.Contains("p(y | x_0 = x̂0(x_t))", panel.Find("[data-testid=maths-highlight]").TextContent);

        // Every symbol the formulas mark is explained in words, ζ and σ_y among them.
        var explained = panel.FindAll("[data-symbol]").Select(e => e.GetAttribute("data-symbol")).ToList();
        Assert.Contains("zeta", explained);
        Assert.Contains("y", explained);
        Assert.Contains("x0hat", explained);
        Assert.Contains("guidance step", panel.Find("[data-symbol=zeta] dd").TextContent);

        // The scope hands its element and the meanings to the script, which renders and explains on hover or tap.
        var attach = module.VerifyInvoke("attach");
        Assert.Equal(2, attach.Arguments.Count);
    }

    [Fact]
    public void An_unconditional_sampler_has_no_likelihood_term_and_says_y_is_ignored()
    {
        var panel = context.Render<SolverMathsPanel>(p => p.Add(c => c.Solver, Solver("ddpm")));

        Assert.Empty(panel.FindAll("[data-testid=bayes-rule]"));
        Assert.Contains("y appears nowhere", panel.Find("[data-testid=maths-highlight]").TextContent);
        Assert.Contains(@"\hl{\sym{x0hat}", panel.Find("[data-testid=maths-line] [data-tex]").GetAttribute("data-tex"));
    }

    [Fact]
    public void The_optimisers_show_their_objective_and_why_they_give_one_answer_slowly()
    {
        var panel = context.Render<SolverMathsPanel>(p => p.Add(c => c.Solver, Solver("admm")));

        Assert.Empty(panel.FindAll("[data-testid=bayes-rule]"));
        var text = panel.Find("[data-testid=maths-highlight]").TextContent;
        Assert.Contains("one answer for every seed", text);
        Assert.Contains("slowly", text);
        Assert.Contains(@"u_{k+1} = u_k + x_{k+1} - z_{k+1}", panel.FindAll("[data-testid=maths-line] [data-tex]")[1].GetAttribute("data-tex"));
    }

    [Fact]
    public void Changing_the_solver_changes_the_formulas_in_place()
    {
        var panel = context.Render<SolverMathsPanel>(p => p.Add(c => c.Solver, Solver("sdedit")));
        Assert.Contains(@"\hl{\sym{xg}", panel.Find("[data-testid=maths-line] [data-tex]").GetAttribute("data-tex"));

        panel.Render(p => p.Add(c => c.Solver, Solver("score-ald")));

        Assert.Equal("score-ald", panel.Find("[data-testid=solver-maths]").GetAttribute("data-solver"));
        Assert.Contains(@"\gamma_i", panel.Find("[data-testid=maths-line] [data-tex]").GetAttribute("data-tex"));
        module.VerifyInvoke("attach", calledTimes: 1); // the script follows the change itself
    }

    [Fact]
    public void A_solver_without_a_written_rule_says_so_instead_of_showing_nothing()
    {
        var unknown = Solver("dps") with { Id = "new-solver", DisplayName = "A new solver" };
        var panel = context.Render<SolverMathsPanel>(p => p.Add(c => c.Solver, unknown));

        Assert.Contains("No update rule has been written down for A new solver yet", panel.Find("[data-testid=maths-missing]").TextContent);
        Assert.Empty(panel.FindAll("[data-tex]"));
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public Task DisposeAsync() => context.DisposeAsync().AsTask();
}
