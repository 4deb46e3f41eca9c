using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Solvers.Regularizers;

namespace DiffusionLab.Engine.Methods;

/// <summary>Catalog entries of the optimisation baselines (HQS, ADMM).</summary>
/// <remarks>
/// λ means something different for each regulariser (a prior precision for Tikhonov, an edge
/// penalty for total variation, a prior temperature for plug-and-play, where 1 is the prior
/// taken at its word), so a good λ changes with the regulariser: <see cref="DefaultsFor"/> takes
/// it into account and the descriptors' own <c>DefaultsFor</c> gives the defaults for the default
/// regulariser, total variation. Defaults are tuned for 32×32 images in [-1, 1] with sigmaY ≈ 0.05.
/// </remarks>
public static class ClassicalSolverCatalog
{
    const RegularizerKind DefaultRegularizer = RegularizerKind.TotalVariation;

    static readonly ParameterDefinition RegularizerParameter = new(
        "regularizer", "Regulariser", 0, RegularizerFactory.ChoiceNames.Count - 1, (int)DefaultRegularizer,
        "What the answer is assumed to look like. Tikhonov: pixel values stay near the image's mean colour " +
        "(smooth, low-contrast guesses). Total variation: flat patches with sharp edges (cartoon-like). " +
        "Plug-and-play diffusion: whatever the trained diffusion model thinks is a plausible image, used as a denoiser.",
        IsInteger: true, Choices: RegularizerFactory.ChoiceNames);

    static readonly ParameterDefinition LambdaParameter = new(
        "lambda", "λ (prior weight)", 1e-4, 1e4, Defaults(DefaultRegularizer, null).Lambda,
        "How much the regulariser counts against fitting y. Larger: smoother, less noisy, but less faithful to y. " +
        "Its good range depends on the regulariser (Tikhonov ≈ 1–10, total variation ≈ 5–50, plug-and-play ≈ 1). " +
        "For blur, total variation wants less: on four held-out faces λ = 1 gave 20.2 dB against y's 16.6 (λ = 5: 19.2, λ = 20: 17.8), so blur starts at 1.");

    static readonly ParameterDefinition CgParameter = new(
        "cgIterations", "CG iterations", 1, 500, 30,
        "Conjugate-gradient steps for the data step (a linear solve with A and Aᵀ) in each iteration; " +
        "it stops earlier when the solve is already accurate.", IsInteger: true);

    public static IReadOnlyList<SolverDescriptor> Entries { get; } =
    [
        new SolverDescriptor(
            "hqs", "HQS (half-quadratic splitting)",
            "An optimiser, not a sampler: it looks for the single image that best balances fitting the measurement " +
            "against a regulariser, so every seed gives the same answer. It alternates two easy steps: make the image " +
            "agree with y (a linear solve), then clean it with the regulariser. A penalty μ that grows each iteration " +
            "forces the two halves to agree by the end.",
            SolverFamily.Classical, NeedsLinearOperator: true, DefaultSteps: 40, MaxSteps: 500,
            [
                RegularizerParameter,
                LambdaParameter,
                new("mu0", "μ₀ (first penalty)", 1e-4, 1e6, Defaults(DefaultRegularizer, null).Mu0,
                    "How tightly the two halves are tied together at the start. Small: the regulariser dominates early " +
                    "(heavy smoothing or denoising first); large: the image sticks to y from the start."),
                new("growth", "μ growth per iteration", 1, 3, Defaults(DefaultRegularizer, null).Growth,
                    "Each iteration multiplies μ by this. Larger converges sooner but lands further from the exact optimum."),
                CgParameter,
            ],
            corruption => ToDictionary("hqs", Defaults(DefaultRegularizer, corruption)),
            p => new Hqs(MakeRegularizer(p), p["lambda"], p["mu0"], p["growth"], (int)p["cgIterations"])),
        new SolverDescriptor(
            "admm", "ADMM (alternating direction method of multipliers)",
            "An optimiser, not a sampler: it finds the single image that minimises 'misfit to y plus λ × regulariser', " +
            "so every seed gives the same answer. Like HQS it alternates a data step and a regulariser step, but it keeps " +
            "a running record of their disagreement (u) and corrects for it, so it reaches the exact optimum of a convex " +
            "problem without a growing penalty.",
            SolverFamily.Classical, NeedsLinearOperator: true, DefaultSteps: 40, MaxSteps: 500,
            [
                RegularizerParameter,
                LambdaParameter,
                new("rho", "ρ (penalty)", 1e-4, 1e6, Defaults(DefaultRegularizer, null).Rho,
                    "How strongly the data step and the regulariser step are pulled together. It changes only how fast " +
                    "ADMM converges for Tikhonov and total variation, not where; for plug-and-play it also sets the " +
                    "denoising strength √(λ/ρ)."),
                CgParameter,
            ],
            corruption => ToDictionary("admm", Defaults(DefaultRegularizer, corruption)),
            p => new Admm(MakeRegularizer(p), p["lambda"], p["rho"], (int)p["cgIterations"])),
    ];

    /// <summary>
    /// Defaults of "hqs" or "admm" for a corruption (null: none chosen) and a regulariser: the lab should
    /// call this again when the student switches regulariser, since λ's scale depends on it.
    /// </summary>
    public static IReadOnlyDictionary<string, double> DefaultsFor(string solverId, string? corruption, RegularizerKind regularizer) =>
        solverId is "hqs" or "admm"
            ? ToDictionary(solverId, Defaults(regularizer, corruption))
            : throw new ArgumentException($"'{solverId}' is not a classical solver (hqs, admm)", nameof(solverId));

    static Func<Priors.IDenoiser, IRegularizer> MakeRegularizer(IReadOnlyDictionary<string, double> parameters) =>
        RegularizerFactory.For(RegularizerFactory.FromChoice(parameters["regularizer"]));

    sealed record Setting(RegularizerKind Regularizer, double Lambda, double Mu0, double Growth, double Rho);

    /// <remarks>
    /// With sigmaY = 0.05 the data term weighs 1/sigmaY² = 400. HQS starts at μ0 = 4λ, a strong first
    /// clean-up (prox weight λ/μ0 = 0.25), and grows μ by 1.15 per step, so after the default 40 steps
    /// the prox weight is ≈ 0.001. ADMM's ρ = 100 makes each prox a mild clean-up (plug-and-play:
    /// noise level √(1/100) = 0.1). The λ for total variation and Tikhonov were chosen on a synthetic
    /// 32×32 picture (smooth shading, flat shapes) with sigmaY = 0.05: TV gains ≈ 5 dB PSNR over y for
    /// denoising, ≈ 6 dB for a 9×9 blur (σ = 1.5), ≈ 5 dB for a 16×16 hole, ≈ 2 dB for ×2
    /// super-resolution. Tikhonov barely helps (a per-pixel Gaussian prior of variance ≈ 1/λ is
    /// much wider than the noise), which is itself worth seeing. Plug-and-play uses λ = 1: the prior taken at its word.
    /// For blur the TV weight was measured again on four held-out pixel faces (the lab's Gaussian blur, sigmaY = 0.05,
    /// 40 steps, μ0 = 4λ): λ = 0.25, 0.5, 1, 2, 5, 10, 20 give 19.0, 20.0, 20.2, 19.9, 19.2, 18.5, 17.8 dB against y's 16.6,
    /// so blur takes λ = 1: flat faces want less smoothing than the synthetic picture did.
    /// </remarks>
    static Setting Defaults(RegularizerKind regularizer, string? corruption)
    {
        bool blur = corruption is "gaussian-blur" or "motion-blur";
        bool holes = corruption is "box-inpainting" or "random-inpainting";
        return regularizer switch
        {
            RegularizerKind.Tikhonov => Around(blur ? 10 : 4),
            RegularizerKind.TotalVariation => Around(corruption switch
            {
                "denoise" => 15,
                "gaussian-blur" or "motion-blur" => 1, // measured on held-out faces, see the remarks
                "box-inpainting" or "random-inpainting" => 20,
                "super-resolution" => 8,
                _ => 10,
            }),
            _ => new(regularizer, 1, holes ? 4 : 8, 1.15, 100),
        };

        Setting Around(double lambda) => new(regularizer, lambda, 4 * lambda, 1.15, 100);
    }


    static IReadOnlyDictionary<string, double> ToDictionary(string solverId, Setting setting)
    {
        var values = new Dictionary<string, double>
        {
            ["regularizer"] = (int)setting.Regularizer,
            ["lambda"] = setting.Lambda,
            ["cgIterations"] = 30,
        };
        if (solverId == "hqs")
        {
            values["mu0"] = setting.Mu0;
            values["growth"] = setting.Growth;
        }
        else
        {
            values["rho"] = setting.Rho;
        }
        return values;
    }
}
