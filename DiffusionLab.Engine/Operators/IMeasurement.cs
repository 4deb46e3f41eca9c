using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// A corruption A: x ↦ A(x), applied to a batch [B, ..InputShape] and differentiable
/// (DPS differentiates through it). Built once per run from its parameters and seed, so
/// every call applies the same operator (a motion-blur kernel is never redrawn per call).
/// </summary>
public interface IMeasurement
{
    /// <summary>Catalog id, e.g. "gaussian-blur".</summary>
    string Id { get; }

    /// <summary>False for phase retrieval: solvers that need Aᵀ refuse such operators.</summary>
    bool IsLinear { get; }

    /// <summary>Shape of one input sample, without the batch dimension.</summary>
    long[] InputShape { get; }

    /// <summary>Shape of one measurement, without the batch dimension.</summary>
    long[] OutputShape { get; }

    Tensor Forward(Tensor x);

    /// <summary>Aᵀ, exact: ⟨A x, y⟩ = ⟨x, Aᵀ y⟩. Throws <see cref="NotSupportedException"/> when not linear.</summary>
    Tensor Adjoint(Tensor y);

    /// <summary>
    /// A picture of y in image space, for display and as SDEdit's guide: a pseudo-inverse or
    /// back-projection (masked pixels filled with grey, low-resolution images upsampled, …).
    /// </summary>
    Tensor BackProject(Tensor y);

    /// <summary>
    /// y drawn for a person to look at, values in [-1, 1], shape [B, C, H, W] of any size: by default
    /// its back-projection; a measurement that is not an image (a spectrum) is drawn as itself.
    /// Only for display; solvers never read it.
    /// </summary>
    Tensor Picture(Tensor y) => BackProject(y);

    /// <summary>
    /// The estimate a solver has to beat, made from y alone without any prior: the pseudo-inverse
    /// A⁺y or the back-projection, as the operator defines it (<see cref="NaiveEstimateName"/>), shape
    /// [B, ..InputShape]; null when there is none worth showing (phase retrieval).
    /// </summary>
    Tensor? NaiveEstimate(Tensor y) => IsLinear ? BackProject(y) : null;

    /// <summary>What <see cref="NaiveEstimate"/> is, in a few words for a caption.</summary>
    string NaiveEstimateName => IsLinear ? "A⁺y, the back-projection" : "none";
}
