using DiffusionLab.Engine.Methods;

namespace DiffusionLab.Tests.Methods;

/// <summary>Named settings: each stays within its parameters' ranges, and DPS offers MCGdiff's step size in this project's convention.</summary>
public class SolverPresetTests
{
    [Fact]
    public void Every_preset_names_parameters_its_solver_has_with_values_they_allow()
    {
        foreach (var solver in SolverCatalog.All)
            foreach (var preset in solver.Presets)
                foreach (var (key, value) in preset.Values)
                {
                    var definition = solver.Parameters.SingleOrDefault(p => p.Key == key);
                    Assert.True(definition is not null, $"{solver.Id}'s preset {preset.Id} sets '{key}', which it lacks");
                    Assert.Null(definition.Validate(value));
                }
    }

    [Fact]
    public void Dps_offers_mcgdiffs_zeta_prime_of_a_tenth_as_zeta_a_fifth()
    {
        var preset = SolverCatalog.Find("dps")!.Presets.Single(p => p.Id == "mcgdiff");
        // ζ′/‖r‖ · ∇‖r‖² = 2ζ′ ∇‖r‖: Algorithm 1's ζ′ = 0.1 is ζ = 0.2 on the norm's gradient.
        Assert.Equal(0.2, preset.Values["zeta"], 12);
        Assert.Contains("ζ′ = 0.1", preset.Name);
    }
}
