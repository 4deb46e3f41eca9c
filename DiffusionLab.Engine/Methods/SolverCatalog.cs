
namespace DiffusionLab.Engine.Methods;

/// <summary>Every solver the lab and the CLI offer, diffusion samplers first, then the classical baselines and the generator priors.</summary>
public static class SolverCatalog
{
    public static IReadOnlyList<SolverDescriptor> All { get; } = [.. DiffusionSolverCatalog.Entries, .. FewStepSolverCatalog.Entries, .. ClassicalSolverCatalog.Entries, .. GeneratorSolverCatalog.Entries];

    public static SolverDescriptor? Find(string id) => All.FirstOrDefault(d => d.Id == id);
}
