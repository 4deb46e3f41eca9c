using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>An image the lab offers for a prior: its spec reference ("gallery:3", "sample:0") and a label.</summary>
public sealed record ImageChoice(string Reference, string Label);

/// <summary>
/// What the pickers offer: the engine's priors, corruptions and solvers. A seam so component
/// tests can hand the pickers a small catalog of their own. Links are read against it
/// (<see cref="SpecLink"/>), so a link keeps exactly what the pickers could show.
/// </summary>
public class LabCatalog : ILabOfferings
{
    readonly PriorCatalog? priorCatalog;
    readonly CatalogOfferings? offerings;

    public LabCatalog(PriorCatalog priors) : this(priors.Priors, OperatorCatalog.All, SolverCatalog.All)
    {
        priorCatalog = priors;
        offerings = new CatalogOfferings(priors);
        DefaultPriorId = priors.DefaultId;
    }

    public LabCatalog(IReadOnlyList<PriorInfo> priors, IReadOnlyList<OperatorDescriptor> operators, IReadOnlyList<SolverDescriptor> solvers)
    {
        Priors = priors;
        Operators = operators;
        Solvers = solvers;
    }

    public IReadOnlyList<PriorInfo> Priors { get; }

    /// <summary>The prior a new visitor gets.</summary>
    public string DefaultPriorId { get; init; } = PriorCatalog.ImageDemoId;
    public IReadOnlyList<OperatorDescriptor> Operators { get; }
    public IReadOnlyList<SolverDescriptor> Solvers { get; }
    public IReadOnlyCollection<string> PriorIds => Priors.Select(p => p.Id).ToArray();

    public OperatorDescriptor? FindOperator(string id) => Operators.FirstOrDefault(o => o.Id == id);
    public SolverDescriptor? FindSolver(string id) => Solvers.FirstOrDefault(s => s.Id == id);
    public PriorInfo? FindPrior(string id) => Priors.FirstOrDefault(p => p.Id == id);

    /// <summary>Side length of the prior's square images (what uploads are resized to).</summary>
    public int ImageSize(string priorId) => FindPrior(priorId) is { SampleShape.Length: 3 } prior ? (int)prior.SampleShape[^1] : 32;

    /// <summary>Colour channels of the prior's images (3, or 1 for grey).</summary>
    public int ImageChannels(string priorId) => FindPrior(priorId) is { SampleShape.Length: 3 } prior ? (int)prior.SampleShape[0] : 3;

    /// <summary>The held-out gallery images of a prior's domain, or exact samples of a prior without a gallery.</summary>
    public virtual IReadOnlyList<ImageChoice> Images(string priorId)
    {
        var labels = priorCatalog?.GalleryLabels(priorId) ?? new Dictionary<string, string>();
        return (offerings?.ImageReferences(priorId) ?? CatalogOfferings.SampleImages)
            .Select(reference => new ImageChoice(reference, Label(reference, labels)))
            .ToArray();
    }

    static string Label(string reference, IReadOnlyDictionary<string, string> labels) =>
        ImageReference.TryParse(reference, out var parsed) is null && parsed!.Source == ImageSource.Sample
            ? $"sample {parsed.Name} of the prior"
            : labels.GetValueOrDefault(parsed?.Name ?? reference, parsed?.Name ?? reference);

    /// <summary>The references of <see cref="Images"/>: what a link may keep.</summary>
    public IReadOnlyList<string> ImageReferences(string priorId) => Images(priorId).Select(choice => choice.Reference).ToArray();
}
