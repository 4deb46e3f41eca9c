using DiffusionLab.Engine.Solvers;

namespace DiffusionLab.Engine.Methods;

/// <summary>Catalog entries of the diffusion samplers (unconditional and posterior).</summary>
static class DiffusionSolverCatalog
{
    const int MaxSteps = 1000;

    static readonly ParameterDefinition Eta = new("eta", "η (randomness)", 0, 1, 0,
        "0 makes every step deterministic; 1 adds as much fresh noise per step as DDPM.");

    static readonly ParameterDefinition OdeMethodChoice = new("method", "Integrator", 0, 1, (double)OdeMethod.Heun,
        "Euler uses one network call per step; Heun corrects each step with a second call and is more accurate for the same number of steps.",
        Choices: ["Euler", "Heun"]);

    static readonly ParameterDefinition Strength = new("t0", "Strength t0", 0.02, 1, 0.1,
        "How far the guide image is pushed into noise before it is denoised: small keeps it faithful to y (artefacts stay), large makes it realistic but lets it drift from y. " +
        "Measured on four held-out faces (σ_y = 0.05): denoising beats y only at t0 = 0.05 (35.4 dB against y's 33.1; 31.9 at 0.1, 15.6 at 0.5); " +
        "Gaussian blur and box inpainting do best at 0.1 (18.3 dB against y's 16.6; 15.8 against 15.0) and fall below y by 0.5 (12.9 and 12.1). Hence 0.05 for denoising, 0.1 otherwise.");

    static readonly ParameterDefinition Levels = new("levels", "Noise levels L", 1, 1000, 100,
        "How many noise levels the Langevin chain walks down, from pure noise to almost clean.", IsInteger: true);

    static readonly ParameterDefinition StepsPerLevel = new("stepsPerLevel", "Steps per level K", 1, 10, 3,
        "Langevin steps taken at each noise level (the run takes L × K steps in all).", IsInteger: true);

    static readonly ParameterDefinition StepScale = new("epsilon", "Step scale ε", 1e-7, 1e-3, 5e-5,
        "Langevin step size at the last (smallest) noise level; larger levels take steps scaled by σ_i²/σ_L². Too large and the chain explodes: keep it below σ_L² (1e-4 for the usual linear schedule).");

    static readonly ParameterDefinition Spacing = new("spacing", "Level spacing", 0, 1, (double)LevelSpacing.Geometric,
        "Geometric (as Jalal et al.'s code does) makes each noise level a fixed fraction below the last, so the ladder spends as many levels between σ = 1 and 0.1 as between 10 and 1. Even in timestep spaces the levels evenly in the VP schedule instead: most of them are then at σ > 1, and the last jumps are large.",
        Choices: ["Geometric in σ", "Even in timestep"]);

    static readonly ParameterDefinition Zeta = new("zeta", "ζ (guidance step)", 0, 20, 0.5,
        "How hard each step is pushed toward agreeing with y: ζ times the gradient of ‖y − A(x̂0)‖ (the norm, as the DPS code does). " +
        "The paper's Algorithm 1 writes the same step as ζ′/‖y − A(x̂0)‖ times the gradient of the squared norm, so ζ = 2ζ′: the paper's ζ′ = 0.5 is ζ = 1 here. " +
        "Too small ignores y; too large overshoots and makes artefacts. " +
        "The defaults are for Gaussian noise; with Poisson noise (photon scale 100) take about a third: on four held-out faces with Gaussian blur, " +
        "ζ = 0.3 gave 26.9 dB against 23.2 at the Gaussian default 0.9 and 23.3 at 0.1 (y alone: 15.6).");

    static readonly ParameterDefinition ClipX0Hat = new("clipX0", "Clip x̂0 to [-1, 1]", 0, 1, 1,
        "Keeps the estimate of the clean image inside the image range, as the DPS code does for images (its clip_denoised), both for the step and for the guidance. Turn off for points that are not images.",
        Choices: ["Off", "On"]);

    static readonly ParameterDefinition VarianceChoice = new("variance", "Step variance", 0, 1, 0,
        "Fixed draws each step's noise with the posterior's variance; learned uses the variance an ADM network with learned σ predicts per pixel (its sixth output channels), as guided-diffusion and DPS sample ffhq_10m. Only such networks have it.",
        Choices: ["fixed (posterior β̃)", "learned (the network's σ)"]);

    /// <summary>ADM's clip_denoised for the samplers that step from (ε, x̂0): on by default, as ADM samples images.</summary>
    static readonly ParameterDefinition ClipDenoised = new("clipX0", "Clip x̂0 to [-1, 1]", 0, 1, 1,
        "Clamps the network's guess of the clean image to the image range before each step, as ADM (the guided-diffusion code) does when it samples images; the step then uses the noise that matches the clamped guess. Off follows the network exactly.",
        Choices: ["Off", "On"]);

    /// <summary>The same setting for the continuous-time samplers, off by default: Song et al. integrate the network's own score.</summary>
    static readonly ParameterDefinition ClipScore = ClipDenoised with
    {
        Default = 0,
        Description = "Off (the default, as Song et al. do) integrates the network's own score. On replaces it by the score of the network's guess clamped to the image range, which hides a weak model's wild guesses near pure noise but is no longer the SDE of the paper.",
    };

    static readonly ParameterDefinition OdeSteps = new("odeSteps", "ODE steps per level", 1, 50, 5,
        "Network calls spent on each level's guess of the clean image: a short noise-free flow from the current noise level down to almost clean.", IsInteger: true);

    static readonly ParameterDefinition LangevinSteps = new("langevinSteps", "Langevin steps per level", 0, 500, 100,
        "Noisy steps that move the guess toward agreeing with y while staying near the network's guess. They use only A, not the network, so they are cheap.", IsInteger: true);

    static readonly ParameterDefinition LangevinStepSize = new("lr", "Langevin step size η", 1e-7, 1, 1e-4,
        "Step size of the Langevin chain at the first level; it shrinks to a hundredth by the last. Larger moves further toward y per step; for a linear corruption it is kept below the size at which the chain would blow up.");

    static readonly ParameterDefinition Particles = new("particles", "Particles N", 1, Tds.MaxParticles, 8,
        "How many weighted candidates each sample carries. More particles make the answer closer to the exact posterior, at N times the cost of one run.", IsInteger: true);

    static readonly ParameterDefinition ResampleThreshold = new("ess", "Resample below ESS/N", 0, 1, 0.5,
        "When the effective sample size falls below this fraction of N, the particles are resampled: heavy ones are copied, light ones dropped. 0 never resamples, 1 resamples every step.");

    public static IReadOnlyList<SolverDescriptor> Entries { get; } =
    [
        new("ddpm", "DDPM (ancestral sampling)",
            "Starts from pure noise and removes a little of it at each step: the network guesses the clean image, and the next state is drawn between that guess and the current state, with fresh noise added. Ignores the measurement: it shows what the prior alone produces.",
            SolverFamily.Unconditional, false, 250, MaxSteps, [ClipDenoised, VarianceChoice],
            _ => Defaults(ClipDenoised, VarianceChoice),
            p => new Ddpm(Clip(p, ClipDenoised), p.GetValueOrDefault("variance", VarianceChoice.Default) >= 0.5)),

        new("ddim", "DDIM",
            "Like DDPM, but each step jumps straight toward the network's guess of the clean image, so far fewer steps are enough. With η = 0 the same starting noise always gives the same image. Ignores the measurement.",
            SolverFamily.Unconditional, false, 50, MaxSteps, [Eta, ClipDenoised],
            _ => Defaults(Eta, ClipDenoised),
            p => new Ddim(p.GetValueOrDefault("eta", Eta.Default), Clip(p, ClipDenoised))),

        new("reverse-sde", "Reverse SDE (Euler–Maruyama)",
            "Runs the noising process backwards in continuous time: each step follows the score (the direction toward more likely images) and adds a little noise. Ignores the measurement.",
            SolverFamily.Unconditional, false, 250, MaxSteps, [ClipScore],
            _ => Defaults(ClipScore),
            p => new ReverseSde(Clip(p, ClipScore))),

        new("probability-flow", "Probability-flow ODE",
            "A noise-free path with the same marginals as the reverse SDE: every particle flows deterministically along the score from noise to an image. Ignores the measurement.",
            SolverFamily.Unconditional, false, 100, MaxSteps, [OdeMethodChoice, ClipScore],
            _ => Defaults(OdeMethodChoice, ClipScore),
            p => new ProbabilityFlow((OdeMethod)(int)p.GetValueOrDefault("method", OdeMethodChoice.Default), Clip(p, ClipScore))),

        new("sdedit", "SDEdit",
            "Makes a rough picture from the measurement (for example the blurred or masked image), adds noise to it up to strength t0, and lets the prior denoise it. The measurement is only used at the start.",
            SolverFamily.Posterior, false, 100, MaxSteps, [Strength, ClipDenoised],
            SdeditDefaults,
            p => new Sdedit(p.GetValueOrDefault("t0", Strength.Default), Clip(p, ClipDenoised))),

        new("score-ald", "Score-based annealed Langevin (ScoreALD)",
            "Walks down a ladder of noise levels; at each level it takes a few noisy steps that follow the prior's score plus a pull toward agreeing with y, the pull softened by the current noise level. Needs a linear corruption (it uses Aᵀ).",
            SolverFamily.Posterior, true, 300, MaxSteps * 10, [Levels, StepsPerLevel, StepScale, Spacing],
            ScoreAldDefaults,
            p => new ScoreAld((int)p.GetValueOrDefault("levels", Levels.Default), (int)p.GetValueOrDefault("stepsPerLevel", StepsPerLevel.Default),
                p.GetValueOrDefault("epsilon", StepScale.Default), (LevelSpacing)(int)p.GetValueOrDefault("spacing", Spacing.Default))),

        new("dps", "Diffusion posterior sampling (DPS)",
            "Samples like DDPM, but after every step nudges the state so that the network's guess of the clean image, once corrupted, agrees better with y. The nudge needs a backward pass through the network, which doubles the cost per step; it also works for nonlinear corruptions.",
            SolverFamily.Posterior, false, 250, MaxSteps, [Zeta, ClipX0Hat, VarianceChoice],
            DpsDefaults,
            p => new Dps(p.GetValueOrDefault("zeta", Zeta.Default), Clip(p, ClipX0Hat),
                p.GetValueOrDefault("variance", VarianceChoice.Default) >= 0.5))
        {
            Presets =
            [
                new("mcgdiff", "MCGdiff's setting (ζ′ = 0.1)",
                    "The step size Cardoso et al. (MCGdiff, 2024) give DPS on their Gaussian-mixture benchmark: ζ′ = 0.1 in Algorithm 1's convention, ζ = 0.2 here.",
                    new Dictionary<string, double> { ["zeta"] = 2 * McgdiffZetaPrime }),
            ],
        },

        new("daps", "Decoupled annealing (DAPS)",
            "Walks down a ladder of noise levels. At each level it guesses the clean image with a few noise-free network steps, then takes many cheap noisy steps that pull that guess toward agreeing with y while keeping it near the network's guess, and finally adds noise for the next, lower level. The steps are the levels; each costs the ODE steps in network calls. Works for nonlinear corruptions too.",
            SolverFamily.Posterior, false, 200, MaxSteps, [OdeSteps, LangevinSteps, LangevinStepSize],
            DapsDefaults,
            p => new Daps((int)p.GetValueOrDefault("odeSteps", OdeSteps.Default), (int)p.GetValueOrDefault("langevinSteps", LangevinSteps.Default),
                p.GetValueOrDefault("lr", LangevinStepSize.Default))),

        new("tds", "Twisted diffusion sampler (TDS, sequential Monte Carlo)",
            "Runs N candidate samples (particles) side by side, each guided toward y like DPS, and keeps a weight for each that corrects for the guidance: particles that explain y well gain weight, and when the weights become too uneven the light ones are dropped and the heavy ones copied. With enough particles the answer is an exact posterior sample. The image shown while it runs is the heaviest particle; the final answer is one particle drawn by weight. Each step costs N forward and backward passes.",
            SolverFamily.Posterior, false, 250, MaxSteps, [Particles, ResampleThreshold, ClipX0Hat],
            TdsDefaults,
            p => new Tds((int)p.GetValueOrDefault("particles", Particles.Default), p.GetValueOrDefault("ess", ResampleThreshold.Default), Clip(p, ClipX0Hat))),
    ];

    /// <summary>ζ′ of MCGdiff's DPS baseline, in Algorithm 1's convention (ζ = 2ζ′ in this project's).</summary>
    public const double McgdiffZetaPrime = 0.1;

    static Dictionary<string, double> Defaults(params ParameterDefinition[] parameters) =>
        parameters.ToDictionary(p => p.Key, p => p.Default);

    /// <summary>A clipping choice (0 off, 1 on); absent means the method's default, so an older link runs as it did.</summary>
    static bool Clip(IReadOnlyDictionary<string, double> p, ParameterDefinition definition) =>
        p.GetValueOrDefault(definition.Key, definition.Default) >= 0.5;

    /// <summary>
    /// SDEdit's strength per corruption, measured on held-out faces (see the parameter's help): a small
    /// t0 so that the answer still comes from y; denoising needs the smallest, since y is already close.
    /// </summary>
    static Dictionary<string, double> SdeditDefaults(string? corruption) =>
        new() { ["t0"] = corruption == "denoise" ? 0.05 : Strength.Default, [ClipDenoised.Key] = ClipDenoised.Default };

    /// <summary>
    /// ScoreALD: 100 levels × 3 steps (csgm-mri-langevin's 3 per level) with ε = 5e-5, half the
    /// stability limit σ_L² (the prior's and the likelihood's curvature add up at large σ). The
    /// explicit-matrix benchmark is cheap per step, so it walks down twice as many levels.
    /// </summary>
    static Dictionary<string, double> ScoreAldDefaults(string? corruption)
    {
        var defaults = Defaults(Levels, StepsPerLevel, StepScale, Spacing);
        if (corruption == "matrix") defaults["levels"] = 200;
        return defaults;
    }

    /// <summary>
    /// ζ per corruption. The official values (docs/maths.md §9: 0.3 blur and super-resolution, 0.5 inpainting,
    /// 1.0 phase retrieval) are for 256×256 images and 1000 steps. With 250 steps there are 4× fewer
    /// pushes toward y, so each must be larger: three times the official ζ, measured on the bundled
    /// pixel-faces prior at 250 steps and sigmaY = 0.05, brings the residual ‖y − A(x̂0)‖ down to the
    /// noise level (×2 super-resolution: 26 dB at ζ = 0.25, 35 dB at ζ = 1; Gaussian blur: 27.7 dB at
    /// ζ = 1, 29.3 dB at ζ = 2). The explicit-matrix benchmark (points, not images) uses ζ = 1 without clipping.
    /// </summary>
    static Dictionary<string, double> DpsDefaults(string? corruption)
    {
        double officialZeta = corruption switch
        {
            "box-inpainting" or "random-inpainting" => 0.5,
            "phase-retrieval" => 1.0,
            "denoise" => 0.5,
            _ => 0.3,
        };
        if (corruption == "matrix") return new() { ["zeta"] = 1.0, ["clipX0"] = 0, ["variance"] = VarianceChoice.Default };
        return new() { ["zeta"] = Math.Round(officialZeta * 3, 6), ["clipX0"] = 1, ["variance"] = VarianceChoice.Default }; // 0.3 × 3 is 0.8999999999999999 in floating point
    }

    /// <summary>
    /// DAPS: the official code's pixel-space settings for DAPS-1K (200 levels × 5 ODE steps, 100 Langevin steps,
    /// η = 1e-4, 5e-5 for inpainting and phase retrieval, decaying to a hundredth). The explicit-matrix problems
    /// (points, not images) need a longer chain per level, so they start at η = 1e-2 under the stability cap.
    /// </summary>
    static Dictionary<string, double> DapsDefaults(string? corruption)
    {
        var defaults = Defaults(OdeSteps, LangevinSteps, LangevinStepSize);
        if (corruption is "box-inpainting" or "random-inpainting" or "phase-retrieval") defaults["lr"] = 5e-5;
        if (corruption == "matrix") defaults["lr"] = 1e-2;
        return defaults;
    }

    /// <summary>TDS: resample below ESS = N/2 (Wu et al.); 8 particles on images (each costs a network pass), more on the cheap explicit-matrix problems.</summary>
    static Dictionary<string, double> TdsDefaults(string? corruption)
    {
        var defaults = Defaults(Particles, ResampleThreshold, ClipX0Hat);
        if (corruption == "matrix") (defaults["particles"], defaults[ClipX0Hat.Key]) = (64, 0);
        return defaults;
    }
}
