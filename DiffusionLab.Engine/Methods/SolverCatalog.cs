
namespace DiffusionLab.Engine.Methods;

/// <summary>Every solver the lab and the CLI offer, diffusion samplers first.</summary>
public static class SolverCatalog
{
    public static IReadOnlyList<SolverDescriptor> All { get; } = [.. DiffusionSolverCatalog.Entries, .. ClassicalSolverCatalog.Entries];

    public static SolverDescriptor? Find(string id) => All.FirstOrDefault(d => d.Id == id);
}
