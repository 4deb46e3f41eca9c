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
}
