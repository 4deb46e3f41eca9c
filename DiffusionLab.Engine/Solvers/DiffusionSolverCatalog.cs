using DiffusionLab.Engine.Experiments;

namespace DiffusionLab.Engine.Solvers;

/// <summary>Catalog entries of the diffusion samplers (unconditional and posterior).</summary>
static class DiffusionSolverCatalog
{
    public static IReadOnlyList<SolverDescriptor> Entries { get; } = [];
}
