using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// A linear corruption whose singular value decomposition A = U Σ Vᵀ is known in closed form, so
/// that a solver can work coordinate by coordinate in the "spectral" basis Vᵀx (DDRM does).
/// </summary>
/// <remarks>
/// The spectral coordinates of a batch are a tensor [B, ..SpectralShape]. Vᵀ is an isometry
/// (‖Vᵀx‖ = ‖x‖ and V Vᵀ x = x); for most corruptions it is a square orthogonal matrix, for
/// Fourier subsampling it is the orthonormal FFT written as real and imaginary parts, whose image
/// is the Hermitian-symmetric arrays. <see cref="SingularValues"/> gives one value per spectral
/// coordinate, 0 where A sees nothing. U maps spectral coordinates with a singular value to the
/// measurement: A x = U(Σ ⊙ Vᵀx) and Aᵀy = V(Σ ⊙ Uᵀy). Every operation here is elementwise-safe
/// for coefficients that depend only on the singular value, which is all DDRM ever applies.
/// </remarks>
public interface ISvdMeasurement : IMeasurement
{
    /// <summary>Shape of one sample's spectral coordinates, without the batch dimension.</summary>
    long[] SpectralShape { get; }

    /// <summary>Σ per spectral coordinate, [..SpectralShape] float64 (owned by the operator; do not dispose).</summary>
    Tensor SingularValues { get; }

    /// <summary>Vᵀ x: [B, ..InputShape] → [B, ..SpectralShape].</summary>
    Tensor ToSpectral(Tensor x);

    /// <summary>V x̄: [B, ..SpectralShape] → [B, ..InputShape].</summary>
    Tensor FromSpectral(Tensor spectral);

    /// <summary>Uᵀ y, laid out as spectral coordinates (0 where Σ = 0): [B, ..OutputShape] → [B, ..SpectralShape].</summary>
    Tensor MeasurementToSpectral(Tensor y);

    /// <summary>U z for spectral coordinates z (only those with Σ &gt; 0 count): [B, ..SpectralShape] → [B, ..OutputShape].</summary>
    Tensor SpectralToMeasurement(Tensor spectral);
}
