using DiffusionLab.Engine.Methods;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// What a solver's two pictures are, in the words of its family, for every page that shows a run:
/// a diffusion solver's x_t and x̂0, an optimiser's two halves of a splitting step, a generator's G(z).
/// One notation, x̂0, in all the text a student reads.
/// </summary>
public sealed record PanelLabels(string State, string StateSymbol, string Estimate, string EstimateSymbol, string Family)
{
    public const string SdeditId = "sdedit";

    public static PanelLabels For(SolverDescriptor? solver) => solver switch
    {
        { Family: SolverFamily.Classical } => new("x", "(data step)", "z", "(prior step)",
            "Optimisation: one answer, no sampling; x fits y, z is x cleaned by the regulariser, and they meet"),
        { Family: SolverFamily.Generator } => new("G(z)", "(best code so far)", "G(z)", "(the answer)",
            "Generator prior: searches a VAE's or GAN's codes for an image that explains y"),
        { Id: SdeditId } => new("x_t", "(noisy state)", "x̂0", "(estimate of x0)",
            "Guided diffusion, not a posterior sampler: noises y to t0 and denoises it with the prior, looking at y only once"),
        { Family: SolverFamily.Posterior } => new("x_t", "(noisy state)", "x̂0", "(estimate of x0)",
            "Diffusion posterior sampler: uses the prior and y at every step"),
        _ => new("x_t", "(noisy state)", "x̂0", "(estimate of x0)", "Unconditional sampler: ignores y, shows the prior alone"),
    };
}
