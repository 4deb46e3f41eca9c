namespace DiffusionLab.Engine.Diffusion;

/// <summary>
/// How the training loss weighs the ε-MSE at each timestep. Every weighting has the same optimum
/// (the exact ε of each t); they differ in where a network too small to reach it spends its capacity.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter<LossWeighting>))]
public enum LossWeighting
{
    /// <summary>Ho et al.'s L_simple: every t alike, which leaves most of the gradient to the nearly clean end (small t).</summary>
    Uniform,
    /// <summary>
    /// Perception-prioritised weighting (Choi et al. 2022) with k = 1, γ = 1: λ_t = 1 / (1 + SNR(t)) = 1 − ᾱ_t.
    /// It turns down the small-t terms, which only polish imperceptible detail, so the content
    /// (shapes, layout) learnt at larger t gets the capacity.
    /// </summary>
    P2,
}
