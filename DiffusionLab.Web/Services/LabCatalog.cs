using DiffusionLab.Engine.Experiments;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Web.Services;

/// <summary>
/// What the pickers offer: the engine's catalogs of priors, corruptions and solvers. A seam so
/// component tests can hand the pickers a small catalog of their own.
/// </summary>
public class LabCatalog
{
    public LabCatalog() : this(PriorCatalog.All, OperatorCatalog.All, SolverCatalog.All) { }

    public LabCatalog(IReadOnlyList<PriorInfo> priors, IReadOnlyList<OperatorDescriptor> operators, IReadOnlyList<SolverDescriptor> solvers)
    {
        Priors = priors;
        Operators = operators;
        Solvers = solvers;
    }

    public IReadOnlyList<PriorInfo> Priors { get; }
    public IReadOnlyList<OperatorDescriptor> Operators { get; }
    public IReadOnlyList<SolverDescriptor> Solvers { get; }

    public OperatorDescriptor? FindOperator(string id) => Operators.FirstOrDefault(o => o.Id == id);
    public SolverDescriptor? FindSolver(string id) => Solvers.FirstOrDefault(s => s.Id == id);
    public PriorInfo? FindPrior(string id) => Priors.FirstOrDefault(p => p.Id == id);

    /// <summary>Ids of the held-out gallery images of a prior's domain.</summary>
    public virtual IReadOnlyList<string> GalleryImages(string priorId) => PriorCatalog.GalleryImages(priorId);
}
