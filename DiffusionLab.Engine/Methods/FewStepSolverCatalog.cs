using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Engine.Methods;

/// <summary>
/// Catalog entries of the posterior samplers built to need few network evaluations: DiffPIR,
/// DDRM and ΠGDM (docs/maths.md §15–17). They are diffusion posterior samplers like DPS, so the
/// lab, compare, diversity, the 2-D lab and the benchmark offer them beside it.
/// </summary>
static class FewStepSolverCatalog
{
    const int MaxSteps = 1000;

    static readonly ParameterDefinition DiffPirLambda = new("lambda", "λ (prior weight)", 0.01, 100, 0.25,
        "How much the prior's guess counts against y in each data step: the step solves argmin ‖y − Ax‖² + ρ_t‖x − x̂0‖² with ρ_t = λ·σ_y²/σ̄_t², σ̄_t the noise level of the current step. Small λ trusts y more.");

    static readonly ParameterDefinition DiffPirZeta = new("zeta", "ζ (fresh noise)", 0, 1, 1,
        "How much of the noise put back after each step is drawn fresh: 0 re-uses the step's own noise estimate (deterministic, like DDIM), 1 draws it all anew.");

    static readonly ParameterDefinition DdrmEta = new("eta", "η (fresh noise)", 0, 1, 0.85,
        "Share of fresh noise in each step, as DDIM's η: 0 is deterministic, 1 draws all of it anew. The paper's 0.85 keeps some of the step's own noise estimate.");

    static readonly ParameterDefinition DdrmEtaB = new("etaB", "η_b (trust in y)", 0, 1, 1,
        "Where y is less noisy than the current step, how far the image is pulled onto y's values: 1 takes them (with the noise still missing added back), 0 ignores them until the noise drops below y's.");

    static readonly ParameterDefinition PiGdmEta = new("eta", "η (randomness)", 0, 1, 0,
        "DDIM's η: 0 makes every step deterministic (the authors' code's setting: each starting noise gives one answer), 1 adds as much fresh noise per step as DDPM, which a sampler of the posterior needs.");

    static readonly ParameterDefinition PiGdmWeightingChoice = new("weighting", "Guidance weight", 0, 1, (int)PiGdmWeighting.AuthorsCode,
        "How the pull toward y enters each step. As a score: the exact likelihood score if the clean image were Gaussian around the network's guess (exact for a Gaussian prior, but it overshoots early on for images). As in the authors' code: the same pull, much weaker while the image is still mostly noise.",
        Choices: ["as the likelihood score", "as in the authors' code"]);

    /// <summary>DiffPIR's code clips x̂0 (guided-diffusion's clip_denoised); DDRM's and ΠGDM's do not.</summary>
    static readonly ParameterDefinition ClipOn = Clip(1), ClipOff = Clip(0);

    static ParameterDefinition Clip(double byDefault) => new("clipX0", "Clip x̂0 to [-1, 1]", 0, 1, byDefault,
        "Keeps the network's estimate of the clean image inside the image range. Turn off for points that are not images.",
        Choices: ["Off", "On"]);

    public static IReadOnlyList<SolverDescriptor> Entries { get; } =
    [
        new("diffpir", "DiffPIR (plug-and-play diffusion)",
            "Half-quadratic splitting inside the reverse diffusion: at every step the network guesses the clean image, a data step pulls that guess toward agreeing with y (an exact linear solve, balancing y against the guess by their noise levels), and the result is noised again to the next step's level. No gradient through the network, one evaluation per step, so 20–100 steps suffice. Needs a linear corruption.",
            SolverFamily.Posterior, true, 50, MaxSteps, [DiffPirLambda, DiffPirZeta, ClipOn],
            DiffPirDefaults,
            p => new DiffPir(p.GetValueOrDefault("lambda", DiffPirLambda.Default), p.GetValueOrDefault("zeta", DiffPirZeta.Default),
                p.GetValueOrDefault("clipX0", ClipOn.Default) >= 0.5)),

        new("ddrm", "DDRM (denoising diffusion restoration)",
            "Works in the corruption's own coordinates (its singular value decomposition): there every measured coordinate is simply a noisy copy of the image's, so each step keeps the network's guess where y says nothing, and mixes in y where y knows better than the current noise level. One evaluation per step, no gradients: 20 steps are the paper's setting. Needs a corruption whose SVD is known (denoising, inpainting, super-resolution, colorization, Fourier subsampling).",
            SolverFamily.Posterior, true, 20, MaxSteps, [DdrmEta, DdrmEtaB, ClipOff],
            _ => new Dictionary<string, double> { ["eta"] = DdrmEta.Default, ["etaB"] = DdrmEtaB.Default, ["clipX0"] = ClipOff.Default },
            p => new Ddrm(p.GetValueOrDefault("eta", DdrmEta.Default), p.GetValueOrDefault("etaB", DdrmEtaB.Default),
                p.GetValueOrDefault("clipX0", ClipOff.Default) >= 0.5),
            NeedsKnownSvd: true),

        new("pigdm", "ΠGDM (pseudoinverse-guided diffusion)",
            "DDIM guided by the likelihood of y as if the clean image were Gaussian around the network's guess: the pull toward y is solved exactly for that Gaussian (a linear solve with A Aᵀ) and carried back through the network by one backward pass, so each step costs two evaluations. Needs a linear corruption.",
            SolverFamily.Posterior, true, 50, MaxSteps, [PiGdmEta, PiGdmWeightingChoice, ClipOff],
            corruption => new Dictionary<string, double>
            {
                // Points in the plane and the benchmark's mixtures are sampled, not restored: DDPM-like noise and the
                // score form, which is exact for a Gaussian. Images take the authors' code's settings (η = 0, its weight),
                // measured better on the faces (×4 super-resolution 21.2 dB against 20.5 dB, box inpainting 27.8 against 26.0).
                ["eta"] = corruption == "matrix" ? 1 : PiGdmEta.Default,
                ["weighting"] = corruption == "matrix" ? (int)PiGdmWeighting.Score : PiGdmWeightingChoice.Default,
                ["clipX0"] = ClipOff.Default,
            },
            p => new PiGdm(p.GetValueOrDefault("eta", PiGdmEta.Default), p.GetValueOrDefault("clipX0", ClipOff.Default) >= 0.5,
                (PiGdmWeighting)(int)p.GetValueOrDefault("weighting", PiGdmWeightingChoice.Default))),
    ];

    /// <summary>
    /// DiffPIR: the official configurations use λ = 1 with σ_n measured on the [0, 1] image scale,
    /// that is λ = 1/4 with this project's σ_y on the [−1, 1] scale; they use ζ = 1 for inpainting and
    /// 0.25 for super-resolution. On the bundled faces at 50 steps and σ_y = 0.05, ζ = 1 is far better
    /// for ×4 super-resolution too (16 held-out faces: 28.1 dB, against 22.4 dB at ζ = 0.25 and 19.1 dB
    /// at ζ = 0), so ζ = 1 is the default everywhere. The explicit-matrix benchmark (points, not images)
    /// uses no clipping.
    /// </summary>
    static Dictionary<string, double> DiffPirDefaults(string? corruption) =>
        new() { ["lambda"] = DiffPirLambda.Default, ["zeta"] = DiffPirZeta.Default, ["clipX0"] = corruption == "matrix" ? 0 : 1 };
}
