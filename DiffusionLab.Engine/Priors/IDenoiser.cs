using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A diffusion prior as every solver sees it: an ε-prediction network ε(x_t, t) over a
/// discrete VP schedule. The exact Gaussian-mixture prior and the UNet both implement it,
/// so every solver can be checked against a prior whose posterior is known in closed form.
/// </summary>
public interface IDenoiser
{
    /// <summary>Short id, as in model cards and URLs (e.g. "pixel-faces-32", "gmm-image").</summary>
    string Name { get; }

    /// <summary>The training schedule the ε-model was fitted on.</summary>
    NoiseSchedule Schedule { get; }

    /// <summary>Shape of one sample without the batch dimension: [C, H, W] for images, [D] for vectors.</summary>
    long[] SampleShape { get; }

    Device Device { get; }

    /// <summary>
    /// ε(x_t, t) for a batch. <paramref name="xt"/> has shape [B, ..SampleShape];
    /// <paramref name="t"/> is an int64 tensor [B] of timestep indices, one per sample, so a
    /// batch may mix runs that are at different steps. Differentiable with respect to x_t.
    /// </summary>
    Tensor PredictNoise(Tensor xt, Tensor t);
}
