using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Methods;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>An image the lab offers for a prior: its spec reference ("gallery:3", "sample:0") and a label.</summary>
public sealed record ImageChoice(string Reference, string Label);

/// <summary>
/// What the pickers offer: the engine's priors, corruptions and solvers. A seam so component
/// tests can hand the pickers a small catalog of their own.
/// </summary>
public class LabCatalog
{
    /// <summary>Exact samples offered for priors without a gallery (the Gaussian mixtures).</summary>
    const int SamplesOffered = 8;
    readonly PriorCatalog? priorCatalog;

    public LabCatalog(PriorCatalog priors) : this(priors.Priors, OperatorCatalog.All, SolverCatalog.All)
    {
        priorCatalog = priors;
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
        var gallery = priorCatalog?.Gallery(priorId) ?? [];
        if (gallery.Count > 0)
        {
            var labels = priorCatalog!.GalleryLabels(priorId);
            return gallery.Select(name => new ImageChoice("gallery:" + name, labels.GetValueOrDefault(name, name))).ToArray();
        }
        return Enumerable.Range(0, SamplesOffered).Select(i => new ImageChoice($"sample:{i}", $"sample {i} of the prior")).ToArray();
    }

    /// <summary>
    /// The image a link asks for when this prior offers it (or an upload), else the prior's first
    /// image: a bare or partial address asks for "gallery:0", which a named gallery lacks, and a
    /// link may come from a server with other images.
    /// </summary>
    public string OfferedImageOrFirst(string priorId, string image)
    {
        if (image.StartsWith("upload:", StringComparison.Ordinal)) return image;
        var offered = Images(priorId);
        return offered.Any(choice => choice.Reference == image) ? image : offered.FirstOrDefault()?.Reference ?? "";
    }
}
