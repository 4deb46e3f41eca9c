using DiffusionLab.Web.Features.Maths;

namespace DiffusionLab.Web.Features.Learn;

/// <summary>
/// The lessons of /learn, in order. This file is the lessons' text: a teacher can reword, reorder, add or
/// remove lessons here and nowhere else. Each preset is a link as the page's own "Copy link" writes it
/// (open the page, set it up, copy the link, paste the part after '?'); a test opens every preset the way
/// the page does and fails if anything in it would be replaced, clamped or left out, and checks that
/// hidden and locked controls exist on that page. Equations are KaTeX; <c>\sym{key}{…}</c> makes a symbol
/// explain itself (its key in MathSymbols) and <c>\hl{…}</c> highlights a term.
/// </summary>
public static class Lessons
{
    const string Face = "prior=pixel-faces-32&image=gallery%3Aface-00010";

    public static IReadOnlyList<Lesson> All { get; } =
    [
        new("forward", "The forward process: data in, noise out", LessonPage.Toy, "",
            "Watch noise wash a known distribution away, exactly: everything a diffusion model learns is how to run this film backwards.",
            [
                "Press ▶ under Forward process (or drag t). Every data point drifts toward the centre and spreads out; at t = 1 the cloud is N(0, I) and the ring is gone.",
                "The heat map is the exact density p_t: the eight blobs blur into one. Nothing here is estimated.",
                "Switch on the score arrows ∇log p_t: at small t they point at the nearest blob, at large t simply toward the centre. A sampler follows these arrows back.",
            ],
            @"\sym{xt}{x_t} = \sqrt{\sym{abar}{\bar\alpha_t}}\,\sym{x0}{x_0} + \sqrt{1-\bar\alpha_t}\;\sym{noise}{\varepsilon},\qquad \varepsilon\sim\mathcal N(0, I)",
            "x_t keeps √ᾱ_t of the data and adds noise; ᾱ_t falls from 1 (clean) to almost 0 (pure noise).",
            Hidden: ["measurement", "solver"], Locked: []),

        new("prior-sampling", "Sampling the prior: DDPM and DDIM on one seed", LessonPage.Compare,
            Face + "&op=denoise&noise=gaussian&sigmaY=0.05&seed=3&solvers=ddpm,ddim",
            "Two samplers of the same prior from the same seed: one adds fresh noise at every step, the other none, and needs five times fewer steps.",
            [
                "Press Run. Both ignore y: each draws a face the prior finds likely, not the face behind y, so their PSNR is low whatever the corruption.",
                "DDIM takes 50 steps to DDPM's 250: it jumps straight toward the network's guess x̂0 and, with η = 0, adds no fresh noise at all.",
                "DDPM adds fresh noise z at every step, so from the same starting noise it ends in another face: it samples, DDIM maps a start to one image.",
            ],
            @"\text{DDIM, }\sym{eta}{\eta} = 0:\quad \sym{xs}{x_s} = \sqrt{\sym{abar}{\bar\alpha_s}}\;\sym{x0hat}{\hat x_0} + \sqrt{1-\bar\alpha_s}\;\sym{eps}{\varepsilon_\theta}(\sym{xt}{x_t},\sym{t}{t})",
            "No z in it: the same start always gives the same image.",
            Hidden: [], Locked: []),

        new("bayes", "Bayes' rule for scores, and the hard part", LessonPage.Lab,
            Face + "&op=box-inpainting&op.box-size=12&op.placement=0&noise=gaussian&sigmaY=0.05&solver=ddpm&steps=100&seed=0",
            "The score of the posterior splits into the prior's score, which the network gives, and the likelihood's, which nobody can compute.",
            [
                "Press Run. DDPM follows the first term alone, the prior's score: its result is a face, but not the one behind y, and the residual ‖y − A(x̂0)‖ stays large.",
                "The second term, ∇log p_t(y | x_t), is what would tie x_t to y. It needs p(x_0 | x_t), the clean image given a noisy one: an integral over every possible image.",
                "Every posterior sampler in the next lessons replaces that term with something it can compute. Which replacement is the whole difference between them.",
            ],
            @"\begin{gathered}" + SolverFormulas.BayesRule.Tex + @"\\[0.4em]" + SolverFormulas.LikelihoodIntegral + @"\end{gathered}",
            "The highlighted term needs the integral below it: the posterior of x_0 given x_t, unknown.",
            Hidden: ["image"], Locked: ["solver"]),

        new("sdedit", "SDEdit: y only picks the start", LessonPage.Lab,
            Face + "&op=gaussian-blur&noise=gaussian&sigmaY=0.05&solver=sdedit&s.t0=0.3&steps=100&seed=0",
            "The simplest approximation: use y once, to make the starting point, and let the prior do the rest.",
            [
                "Press Run and look at the first x_t: the blurred y pushed into noise up to t0. From there plain DDPM takes over, and A is never used again.",
                "Small t0 stays faithful to y, blur and all; large t0 gives a sharp face that drifts away from y. Try t0 = 0.1, 0.3 and 0.8 and watch PSNR and the residual.",
                "Look for a t0 that gives a result both faithful to y and sharp: the trade-off is SDEdit's, since nothing after the start pulls toward y.",
            ],
            SolverFormulas.For("sdedit")!.Lines[0].Tex,
            "y enters only through the guide x^g, once, at the start.",
            Hidden: ["image"], Locked: ["solver"]),

        new("score-ald", "ScoreALD: the likelihood at the noisy point", LessonPage.Lab,
            Face + "&op=box-inpainting&op.box-size=12&op.placement=0&noise=gaussian&sigmaY=0.05&solver=score-ald&seed=0",
            "The second approximation: evaluate the likelihood at the current noisy point, and soften it by the current noise level.",
            [
                "The pull toward y is Aᵀ(y − A x̃) divided by σ_y² + σ_i²: at the top of the ladder σ_i is huge and y barely matters; near the bottom it dominates.",
                "Inside the hole A sees nothing, so the pull is zero there: the prior alone fills the hole, guided by the pixels around it.",
                "No backward pass through the network: each of its L × K steps costs one network call.",
            ],
            SolverFormulas.For("score-ald")!.Lines[0].Tex,
            "Highlighted: ScoreALD's stand-in for ∇log p_t(y | x_t).",
            Hidden: ["image"], Locked: ["solver"]),

        new("dps", "DPS: the likelihood at the network's guess", LessonPage.Lab,
            Face + "&op=box-inpainting&op.box-size=12&op.placement=0&noise=gaussian&sigmaY=0.05&solver=dps&steps=250&seed=0",
            "The third approximation: ask what y the network's guess x̂0 would give, and push x_t so that it fits, through the network.",
            [
                "Watch x̂0: the hole holds a plausible face early on, and the residual ‖y − A(x̂0)‖ falls to the level of the noise.",
                "The push is ζ times a gradient taken through the network (a backward pass): each step costs twice a DDPM step.",
                "ζ sets how hard each step pushes: run again with ζ = 0.3 and with ζ = 10, and compare the residual and the artefacts with the default's.",
            ],
            SolverFormulas.For("dps")!.Lines[0].Tex,
            "Highlighted: DPS's stand-in for ∇log p_t(y | x_t), the gradient of ‖y − A(x̂0(x_t))‖.",
            Hidden: ["image"], Locked: ["solver"]),

        new("hqs-admm", "HQS and ADMM: one answer, and how fast", LessonPage.Compare,
            Face + "&op=gaussian-blur&noise=gaussian&sigmaY=0.05&seed=0&solvers=hqs,admm,dps",
            "The optimisation view: no sampling, one objective, one answer, reached by alternating a data step and a prior step.",
            [
                "Press Run. HQS and ADMM give one image each, the same for every seed (change the seed in the lab: nothing changes); DPS gives a new sample.",
                "Read the table: each iteration is a linear solve with A and Aᵀ and a clean-up by the regulariser, and they creep toward their answer over tens of iterations.",
                "The regulariser (total variation: flat patches, sharp edges) says what images look like, not a learned prior: compare the textures with DPS's.",
            ],
            SolverFormulas.For("hqs")!.Lines[0].Tex,
            "Highlighted: what stands in for the prior −log p(x). The data term is exact: nothing is approximated, because nothing is sampled.",
            Hidden: [], Locked: []),

        new("ambiguity", "Ambiguity: many answers fit one y", LessonPage.Diversity,
            Face + "&op=box-inpainting&op.box-size=12&op.placement=0&noise=gaussian&sigmaY=0.05&solver=dps&steps=250&seed=0&n=8",
            "Eight samples of the same posterior: where they agree, y decided; where they differ, the prior had to guess.",
            [
                "Press Draw. Outside the hole the samples agree (y pins those pixels down); inside, each invents its own eyes and mouth.",
                "The standard-deviation map is white where the samples disagree: the posterior's uncertainty, which a single answer (HQS, ADMM) cannot show.",
                "The mean is smoother than any sample. Compare its PSNR with the DPS lesson's single run (sample 0 of this batch): PSNR rewards the average, not a plausible face.",
            ],
            @"p(\sym{x0}{x_0}\mid \sym{y}{y}) \;\propto\; p(y\mid x_0)\;p(x_0)",
            "A posterior sampler draws from this whole distribution, not its single most likely image.",
            Hidden: [], Locked: []),

        new("dps-wrong", "Where DPS goes wrong: the spurious cluster", LessonPage.Toy, "",
            "On a prior whose posterior is known exactly, DPS's approximation leaves particles where the true posterior has none.",
            [
                "Press Run. The green contours are the exact posterior of observing x₁ = 1.5: two blobs of the ring, one up, one down.",
                "DPS finds both, but leaves a third cluster between them, on the prior's blob at (2.5, 0): there its stand-in p(y | x̂0(x_t)) misleads it.",
                "Switch the solver to ScoreALD and run again: its distance to the posterior falls to what exact samples score (the green line of the chart).",
            ],
            @"p_t(\sym{y}{y}\mid \sym{xt}{x_t}) \;\approx\; \hl{p\big(y \mid x_0 = \sym{x0hat}{\hat x_0}(x_t)\big)}",
            "DPS's approximation: the whole posterior of x_0 given x_t replaced by its mean.",
            Hidden: [], Locked: ["measurement"]),

        new("generators", "Before diffusion: VAEs and GANs", LessonPage.Generators, "",
            "The generators diffusion replaced, trained on the same faces: blurry, or sharp but narrow, and as priors, one answer from a code z.",
            [
                "The VAE's samples have about half the data's edge energy: blurrier, as the poster says. The plain GAN collapsed: sharp faces that cover almost none of the held-out ones.",
                "As priors (CSGM) they search a 64-number code z for the image that explains y: the answer is always an image the generator can make.",
                "In the lab, choose CSGM with the VAE or the GAN as the solver and compare it with DPS on the same y.",
            ],
            SolverFormulas.For("csgm-vae")!.Lines[0].Tex,
            "Highlighted: the prior is the generator's range; the answer is found by optimisation in z.",
            Hidden: [], Locked: []),
    ];

    /// <summary>The key a page passes to the link reader so that "lesson" is not called unknown (<c>SpecLink.Read</c>'s page keys).</summary>
    public static readonly IReadOnlyCollection<string> PageKeys = [Lesson.QueryKey];

    public static Lesson? Find(string? id) => id is null ? null : All.FirstOrDefault(l => l.Id == id);

    /// <summary>The lesson's number, 1 for the first.</summary>
    public static int NumberOf(Lesson lesson) => All.ToList().IndexOf(lesson) + 1;

    public static Lesson? Before(Lesson lesson) => NumberOf(lesson) is var n and > 1 ? All[n - 2] : null;
    public static Lesson? After(Lesson lesson) => NumberOf(lesson) is var n && n < All.Count ? All[n] : null;

    /// <summary>The lesson id a page's query names (null: none), however the query is written.</summary>
    public static string? IdIn(string? query)
    {
        if (string.IsNullOrEmpty(query)) return null;
        foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=');
            if (equals <= 0 || pair[..equals] != Lesson.QueryKey) continue;
            return Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
        }
        return null;
    }
}
