using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Toy;
using DiffusionLab.Web.Features.Toy;

namespace DiffusionLab.Tests.Toy;

/// <summary>CSGM needs a trained image generator, which the plane does not have: it is neither offered nor run there.</summary>
public sealed class ToyGeneratorSolverTests
{
    static readonly ToyMeasurement ObserveX1 = new(ToyMeasurementKind.ObserveX1, Y: 1.5, SigmaY: 0.2);

    [Theory]
    [InlineData("csgm-vae")]
    [InlineData("csgm-gan")]
    public void A_link_naming_a_generator_prior_is_refused_in_words(string solver)
    {
        var problems = ToySpec.ForPreset("ring", solver, ObserveX1).Validate();
        var problem = Assert.Single(problems, p => p.Field == "solver");
        Assert.Contains("image generator", problem.Message);
        var unknown = (ToySpec.ForPreset("ring", "dps", ObserveX1) with { SolverId = "nope" }).Validate().Single(p => p.Field == "solver");
        Assert.DoesNotContain("csgm", unknown.Message);
    }

    [Fact]
    public void The_plane_offers_every_solver_but_the_generator_priors()
    {
        var form = new ToyForm();
        form.SelectMeasurement(ToyMeasurementKind.ObserveX1);
        var offered = form.OfferedSolvers.Select(s => s.Id).ToList();
        Assert.Contains("dps", offered);
        Assert.Contains("hqs", offered);
        Assert.DoesNotContain(offered, id => SolverCatalog.Find(id)!.Family == SolverFamily.Generator);
    }
}
