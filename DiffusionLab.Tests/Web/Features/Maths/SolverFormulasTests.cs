using DiffusionLab.Engine.Methods;
using DiffusionLab.Web.Features.Maths;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The update rules the maths panel shows: one for every solver the catalog offers (a solver added
/// without one fails here, by name), in the symbols the glossary explains, each with the term it
/// approximates highlighted, and each pointing at a section docs/maths.md really has.
/// </summary>
public sealed class SolverFormulasTests
{
    [Fact]
    public void Every_solver_in_the_catalog_has_an_update_rule()
    {
        var missing = SolverCatalog.All.Where(s => SolverFormulas.For(s.Id) is null).Select(s => s.Id).ToList();
        Assert.True(missing.Count == 0,
            $"No update rule for {string.Join(", ", missing)}: add an entry to SolverFormulas.All " +
            "(DiffusionLab.Web/Features/Maths/SolverFormulas.cs) in docs/maths.md's notation, with the term it approximates in \\hl{…}.");
    }

    [Fact]
    public void No_rule_is_kept_for_a_solver_the_catalog_no_longer_has()
    {
        var ids = SolverCatalog.All.Select(s => s.Id).ToHashSet();
        Assert.All(SolverFormulas.All, f => Assert.Contains(f.SolverId, ids));
        Assert.Equal(SolverFormulas.All.Count, SolverFormulas.All.Select(f => f.SolverId).Distinct().Count());
    }

    public static TheoryData<string> Solvers() => [.. SolverCatalog.All.Select(s => s.Id)];

    [Theory]
    [MemberData(nameof(Solvers))]
    public void A_rule_highlights_its_approximation_and_explains_every_symbol_it_marks(string solverId)
    {
        var formula = SolverFormulas.For(solverId);
        if (formula is null) return; // the test above names it
        var tex = formula.Lines.Select(l => l.Tex).ToList();
        Assert.Contains(tex, t => t.Contains(@"\hl{", StringComparison.Ordinal));
        Assert.False(string.IsNullOrWhiteSpace(formula.Highlighted));
        Assert.NotEmpty(formula.SymbolKeys);
        Assert.All(formula.SymbolKeys, key => Assert.True(MathSymbols.Find(key) is not null, $"{solverId}: no meaning for \\sym{{{key}}} in MathSymbols"));
        Assert.All(tex, t => Assert.True(Balanced(t), $"{solverId}: unbalanced braces in {t}"));
    }

    [Fact]
    public void The_posterior_samplers_rules_say_what_stands_in_for_the_likelihood_of_y()
    {
        Assert.Contains(@"\hl{", SolverFormulas.BayesRule.Tex);
        Assert.Contains(@"p_t(y\mid x_t)", SolverFormulas.BayesRule.Tex);
        foreach (var solver in SolverCatalog.All.Where(s => s.Family == SolverFamily.Posterior))
            Assert.Contains("∇log p_t(y | x_t)", SolverFormulas.For(solver.Id)?.Highlighted ?? "∇log p_t(y | x_t)");
        // The three approximations of docs/maths.md §2, each at its own place in its rule.
        Assert.Contains(@"\hl{\sym{xg}", SolverFormulas.For("sdedit")!.Lines[0].Tex);
        Assert.Contains(@"{\sigma_y}^2 + \sym{gammai}", SolverFormulas.For("score-ald")!.Lines[0].Tex);
        Assert.Contains(@"\hl{\sym{zeta}{\zeta}\,\nabla_{\sym{xt}{x_t}}", SolverFormulas.For("dps")!.Lines[0].Tex);
    }

    [Fact]
    public void Every_section_a_rule_names_is_a_heading_of_docs_maths()
    {
        var maths = File.ReadAllText(Path.Combine(BrowserFixture.RepositoryRoot(), "docs", "maths.md"));
        var headings = Regex.Matches(maths, @"^#{2,3} (\d+(?:\.\d+)?)[. ]", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("5", headings);
        Assert.Contains("1.4", headings);
        Assert.All(SolverFormulas.All.Where(f => f.Section is not null), f => Assert.Contains(f.Section!, headings));
    }

    [Fact]
    public void Symbol_keys_are_unique_and_each_has_a_meaning_and_a_plain_name()
    {
        Assert.Equal(MathSymbols.All.Count, MathSymbols.All.Select(s => s.Key).Distinct().Count());
        Assert.All(MathSymbols.All, s =>
        {
            Assert.False(string.IsNullOrWhiteSpace(s.Meaning));
            Assert.False(string.IsNullOrWhiteSpace(s.Name));
            Assert.True(Balanced(s.Tex), s.Tex);
        });
        Assert.Equal(["xt", "y", "x0hat"], SolverFormulas.SymbolKeys([@"\sym{xt}{x_t} + \sym{y}{y} - \sym{xt}{x_t} \sym{x0hat}{\hat x_0}"]));
    }

    static bool Balanced(string tex)
    {
        var depth = 0;
        for (var i = 0; i < tex.Length; i++)
        {
            if (tex[i] == '\\' && i + 1 < tex.Length && tex[i + 1] is '{' or '}') { i++; continue; }
            if (tex[i] == '{') depth++;
            else if (tex[i] == '}' && --depth < 0) return false;
        }
        return depth == 0;
    }
}
