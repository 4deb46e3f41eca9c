using DiffusionLab.Engine.Experiments;

namespace DiffusionLab.Engine.Solvers;

/// <summary>Catalog entries of the optimisation baselines (HQS, ADMM).</summary>
static class ClassicalSolverCatalog
{
    public static IReadOnlyList<SolverDescriptor> Entries { get; } = [];
}
