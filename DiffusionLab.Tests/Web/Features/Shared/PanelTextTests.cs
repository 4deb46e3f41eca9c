using DiffusionLab.Engine.Methods;
using DiffusionLab.Web.Features.Shared;

namespace DiffusionLab.Tests.Web;

/// <summary>What the panels say: names by solver family, and numbers as a person writes them.</summary>
public class PanelTextTests
{
    [Theory]
    [InlineData("hqs", "x", "(data step)", "z", "(prior step)")]
    [InlineData("admm", "x", "(data step)", "z", "(prior step)")]
    [InlineData("dps", "x_t", "(noisy state)", "x̂0", "(estimate of x0)")]
    [InlineData("ddim", "x_t", "(noisy state)", "x̂0", "(estimate of x0)")]
    public void Each_family_names_its_two_pictures(string solver, string state, string stateNote, string estimate, string estimateNote)
    {
        var labels = PanelLabels.For(SolverCatalog.Find(solver));
        Assert.Equal((state, stateNote, estimate, estimateNote), (labels.State, labels.StateSymbol, labels.Estimate, labels.EstimateSymbol));
        Assert.DoesNotContain("x0Hat", labels.Family + labels.State + labels.Estimate);
    }

    [Fact]
    public void SDEdit_is_not_called_a_posterior_sampler()
    {
        Assert.Contains("not a posterior sampler", PanelLabels.For(SolverCatalog.Find("sdedit")).Family);
        Assert.StartsWith("Diffusion posterior sampler", PanelLabels.For(SolverCatalog.Find("dps")).Family);
    }

    [Fact]
    public void Numbers_are_rounded_for_reading()
    {
        Assert.Equal("0.9", NumberText.Setting(0.3 * 3));
        Assert.Equal("0.0125", NumberText.Setting(0.0125));
        Assert.Equal("250", NumberText.Setting(250));
        Assert.Equal("–", NumberText.Fixed(double.NaN, 2));
        Assert.Equal("31.20", NumberText.Fixed(31.2, 2));
        Assert.Equal("8 s", NumberText.Duration(TimeSpan.FromSeconds(7.2)));
        Assert.Equal("3 min", NumberText.Duration(TimeSpan.FromSeconds(150)));
    }

    [Fact]
    public void A_slider_lands_on_its_step_not_beside_it()
    {
        var zeta = SolverCatalog.Find("dps")!.Parameters.Single(p => p.Key == "zeta");
        Assert.Equal(0.9, ParameterPresentation.Snapped(zeta, 0.8999999999999999));
        Assert.Equal("0.9", ParameterPresentation.Number(ParameterPresentation.Snapped(zeta, 0.30000000000000004 * 3)));
        Assert.Equal(zeta.Max, ParameterPresentation.Snapped(zeta, zeta.Max + 5));
        // The DPS default itself, three times the published 0.3, is 0.9 and not its floating-point neighbour.
        Assert.Equal(0.9, SolverCatalog.Find("dps")!.DefaultsFor("gaussian-blur")["zeta"]);
    }

    [Theory]
    [InlineData(0.0, 20.0, "0.0")]
    [InlineData(13.333333333, 20.0, "13.3")]
    [InlineData(0.123456, 0.6, "0.12")]
    [InlineData(-1e-12, 0.6, "0.00")]
    public void Chart_ticks_are_round(double value, double span, string expected) =>
        Assert.Equal(expected, ChartGeometry.TickLabel(value, span));
}
