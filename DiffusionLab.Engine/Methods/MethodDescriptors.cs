using DiffusionLab.Engine.Operators;
using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Engine.Methods;

/// <summary>A corruption as the lab offers it: words for the picker, bounded parameters, and a seeded factory.</summary>
/// <param name="Create">Builds the operator for one sample shape [C, H, W] (or [D]) from validated parameters and the run's seed.</param>
/// <param name="HasKnownSvd">Its operators expose their SVD (<see cref="ISvdMeasurement"/>), which DDRM needs.</param>
public sealed record OperatorDescriptor(
    string Id,
    string DisplayName,
    string Explanation,
    bool IsLinear,
    IReadOnlyList<ParameterDefinition> Parameters,
    Func<IReadOnlyDictionary<string, double>, long[], int, IMeasurement> Create,
    bool HasKnownSvd = false);

public enum SolverFamily
{
    /// <summary>Samples the prior and ignores y (DDPM, DDIM, reverse SDE, probability-flow ODE).</summary>
    Unconditional,
    /// <summary>Diffusion posterior samplers (SDEdit, ScoreALD, DPS).</summary>
    Posterior,
    /// <summary>Optimisation baselines that return a single answer (HQS, ADMM).</summary>
    Classical,
    /// <summary>Searches the latent space of a trained VAE or GAN for an image that explains y (CSGM).</summary>
    Generator,
}

/// <summary>A solver as the lab offers it.</summary>
/// <param name="DefaultsFor">Parameter defaults for a corruption id (null: no corruption), e.g. DPS's ζ per task.</param>
/// <param name="Create">Builds the solver from validated parameters.</param>
/// <param name="NeedsKnownSvd">Works in the corruption's SVD basis (DDRM), so only corruptions with <see cref="OperatorDescriptor.HasKnownSvd"/> fit.</param>
public sealed record SolverDescriptor(
    string Id,
    string DisplayName,
    string Explanation,
    SolverFamily Family,
    bool NeedsLinearOperator,
    int DefaultSteps,
    int MaxSteps,
    IReadOnlyList<ParameterDefinition> Parameters,
    Func<string?, IReadOnlyDictionary<string, double>> DefaultsFor,
    Func<IReadOnlyDictionary<string, double>, ISolver> Create,
    bool NeedsKnownSvd = false)
{
    /// <summary>Why this solver cannot take the corruption, in words, or null when it can.</summary>
    public string? RefusalOf(OperatorDescriptor? corruption) => corruption switch
    {
        { IsLinear: false } when NeedsLinearOperator => $"{DisplayName} needs a linear corruption, and {corruption.DisplayName} is not linear",
        { HasKnownSvd: false } when NeedsKnownSvd =>
            $"{DisplayName} needs a corruption with a known SVD (denoising, inpainting, super-resolution, colorization or Fourier subsampling), and {corruption.DisplayName} has none here",
        _ => null,
    };

    /// <summary>Named settings from a paper or a known protocol, which the lab offers as one click (each value within its parameter's range).</summary>
    public IReadOnlyList<SolverPreset> Presets { get; init; } = [];
}

/// <summary>A named setting of some of a solver's parameters, e.g. the step size a paper's experiments use.</summary>
/// <param name="Values">Parameter key → value; parameters not named keep what they are.</param>
public sealed record SolverPreset(string Id, string Name, string Description, IReadOnlyDictionary<string, double> Values);
