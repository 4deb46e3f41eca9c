using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// What a lab offers for a run: its priors (with the images shown for each), corruptions and
/// solvers. A link is read against it (<see cref="SpecLink"/>) and a spec validated against it;
/// the web app's catalog is one, <see cref="CatalogOfferings"/> (the console's) another.
/// </summary>
public interface ILabOfferings
{
    IReadOnlyList<PriorInfo> Priors { get; }

    /// <summary>The prior a link that names none, or one this lab lacks, gets.</summary>
    string DefaultPriorId { get; }

    IReadOnlyList<OperatorDescriptor> Operators { get; }
    IReadOnlyList<SolverDescriptor> Solvers { get; }

    /// <summary>The image references offered for a prior ("gallery:NAME", "sample:N"), the one a link without an image gets first.</summary>
    IReadOnlyList<string> ImageReferences(string priorId);
}

/// <summary>Everything the engine has: a prior catalog's priors with their galleries, every corruption and every solver.</summary>
public sealed class CatalogOfferings(PriorCatalog priors) : ILabOfferings
{
    /// <summary>Exact samples offered for priors without a gallery (the Gaussian mixtures).</summary>
    public const int SamplesOffered = 8;

    /// <summary>"sample:0" … for a prior without gallery images.</summary>
    public static IReadOnlyList<string> SampleImages { get; } =
        Enumerable.Range(0, SamplesOffered).Select(i => new ImageReference(ImageSource.Sample, i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToString()).ToArray();

    public IReadOnlyList<PriorInfo> Priors => priors.Priors;
    public string DefaultPriorId => priors.DefaultId;
    public IReadOnlyList<OperatorDescriptor> Operators => OperatorCatalog.All;
    public IReadOnlyList<SolverDescriptor> Solvers => SolverCatalog.All;

    /// <summary>The prior's held-out gallery images, or exact samples when it has none.</summary>
    public IReadOnlyList<string> ImageReferences(string priorId)
    {
        var gallery = priors.Gallery(priorId);
        return gallery.Count > 0 ? gallery.Select(name => new ImageReference(ImageSource.Gallery, name).ToString()).ToArray() : SampleImages;
    }
}
