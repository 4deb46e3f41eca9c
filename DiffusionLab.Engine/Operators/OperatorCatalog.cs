using DiffusionLab.Engine.Experiments;

namespace DiffusionLab.Engine.Operators;

/// <summary>Every corruption the lab and the CLI offer.</summary>
public static class OperatorCatalog
{
    public static IReadOnlyList<OperatorDescriptor> All { get; } = [];

    public static OperatorDescriptor? Find(string id) => All.FirstOrDefault(d => d.Id == id);
}
