using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers.Regularizers;

/// <summary>
/// The prior term R of the classical objective ½ sigmaY⁻² ‖y − A x‖² + λ R(x) (docs/maths.md §6), seen
/// through its proximal operator, which is all HQS and ADMM need.
/// </summary>
public interface IRegularizer
{
    /// <summary>Words for the step log and the lab, e.g. "total variation".</summary>
    string Name { get; }

    /// <summary>
    /// prox_{weight·R}(v) = argmin_x ½‖x − v‖² + weight·R(x), for every sample of the batch
    /// v [B, ..SampleShape] on its own. Returns a new tensor; v is left untouched.
    /// </summary>
    Tensor Prox(Tensor v, double weight);

    /// <summary>R(x) per sample, shape [B], or null when R has no value to report (plug-and-play).</summary>
    Tensor? Value(Tensor x);

    /// <summary>Calls of the prior's network so far (plug-and-play only; 0 for the closed-form regularisers).</summary>
    int NetworkEvaluations { get; }
}

/// <summary>The regularisers the lab offers; the number is the value of the solvers' "regularizer" choice parameter.</summary>
public enum RegularizerKind
{
    Tikhonov = 0,
    TotalVariation = 1,
    PlugAndPlayDiffusion = 2,
}

public static class RegularizerFactory
{
    /// <summary>Words for the lab's picker, in the order of <see cref="RegularizerKind"/>.</summary>
    public static IReadOnlyList<string> ChoiceNames { get; } = ["Tikhonov", "total variation", "plug-and-play diffusion"];

    /// <summary>A fresh regulariser for one run (plug-and-play counts that run's network calls).</summary>
    public static IRegularizer Create(RegularizerKind kind, IDenoiser prior) => kind switch
    {
        RegularizerKind.Tikhonov => new Tikhonov(TikhonovCentre.ChannelMean),
        RegularizerKind.TotalVariation => new TotalVariation(),
        RegularizerKind.PlugAndPlayDiffusion => new DiffusionDenoiser(prior),
        _ => throw new SolverException($"unknown regulariser {(int)kind}: choose one of {string.Join(", ", ChoiceNames)}."),
    };

    /// <summary>The factory a solver takes: a fresh regulariser of this kind for each run.</summary>
    public static Func<IDenoiser, IRegularizer> For(RegularizerKind kind) => prior => Create(kind, prior);

    /// <summary>The kind named by a choice parameter's value, or a plain-words refusal.</summary>
    public static RegularizerKind FromChoice(double value)
    {
        int index = (int)value;
        if (index != value || !Enum.IsDefined(typeof(RegularizerKind), index))
            throw new SolverException($"The regulariser must be one of: {string.Join(", ", ChoiceNames)}.");
        return (RegularizerKind)index;
    }
}
