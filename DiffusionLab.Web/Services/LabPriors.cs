using DiffusionLab.Engine.Experiments;
using DiffusionLab.Engine.Priors;

namespace DiffusionLab.Web.Services;

/// <summary>The priors this server offers, with their galleries under wwwroot-assets/gallery/.</summary>
public static class LabPriors
{
    // STAND-IN until the engine says how its priors are registered: the image-shaped mixture prior only.
    public static PriorCatalog Create()
    {
        var catalog = new PriorCatalog(ContentRoot.Gallery(ContentRoot.Find()));
        catalog.Register(new PriorInfo("gmm-image", "Gaussian mixture (image-shaped)", "an exact Gaussian mixture of 32×32 scenes", [3, 32, 32]),
            () => GaussianMixturePresets.ImageDemo());
        return catalog;
    }
}
