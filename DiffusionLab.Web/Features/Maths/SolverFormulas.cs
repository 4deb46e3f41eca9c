using System.Collections.Frozen;
using System.Text.RegularExpressions;

namespace DiffusionLab.Web.Features.Maths;

/// <summary>One line of a solver's maths: what it is, and its TeX.</summary>
/// <param name="Tex">KaTeX source. Two macros of the lab's: <c>\sym{key}{…}</c> marks a symbol that explains itself
/// (its key in <see cref="MathSymbols"/>), <c>\hl{…}</c> highlights the term the solver approximates.</param>
public sealed record FormulaLine(string Caption, string Tex);

/// <summary>A solver's update rule as the maths panel shows it.</summary>
/// <param name="SolverId">The catalog id (<c>SolverCatalog</c>).</param>
/// <param name="Section">The section of docs/maths.md the lines follow (e.g. "5"), or null where that page has none yet.</param>
/// <param name="Highlighted">What the highlighted term is, in words: for the posterior samplers, what stands in for ∇log p_t(y | x_t).</param>
public sealed record SolverFormula(string SolverId, string? Section, string Highlighted, IReadOnlyList<FormulaLine> Lines)
{
    /// <summary>The symbol keys its lines mark with <c>\sym</c>, in order of first appearance.</summary>
    public IReadOnlyList<string> SymbolKeys => SolverFormulas.SymbolKeys(Lines.Select(l => l.Tex));
}

/// <summary>
/// The update rule of every solver in the catalog, keyed by solver id, in docs/maths.md's notation and
/// conventions (which timesteps, what ζ multiplies, where the likelihood is evaluated). A solver added to
/// the catalog without an entry here makes a test fail: add its lines beside the others.
/// </summary>
public static class SolverFormulas
{
    /// <summary>The poster's argument, above every posterior sampler: Bayes' rule for scores, its second term highlighted.</summary>
    public static FormulaLine BayesRule { get; } = new(
        "Bayes' rule at every noise level: the network gives the first term; the second is intractable, and each posterior sampler replaces it by something it can compute.",
        @"\nabla_{\sym{xt}{x_t}}\log \sym{pt}{p_t}(x_t\mid \sym{y}{y}) = \underbrace{\nabla_{x_t}\log p_t(x_t)}_{\text{prior: the network}} + \hl{\underbrace{\nabla_{x_t}\log p_t(y\mid x_t)}_{\text{intractable}}}");

    /// <summary>The intractable integral behind the second term, for the lessons.</summary>
    public const string LikelihoodIntegral =
        @"p_t(\sym{y}{y}\mid \sym{xt}{x_t}) = \int p(y\mid \sym{x0}{x_0})\,p(x_0\mid x_t)\,dx_0";

    const string Tweedie = @"\sym{x0hat}{\hat x_0} = \frac{\sym{xt}{x_t} - \sqrt{1-\sym{abar}{\bar\alpha_t}}\,\sym{eps}{\varepsilon_\theta}(x_t,\sym{t}{t})}{\sqrt{\bar\alpha_t}}";

    const string DdpmStep = @"\sym{xs}{x_s} = \frac{\sqrt{\bar\alpha_s}\,\sym{beta}{\beta_{t\to s}}}{1-\sym{abar}{\bar\alpha_t}}\,\hl{\sym{x0hat}{\hat x_0}} + \frac{\sqrt{\bar\alpha_t/\bar\alpha_s}\,(1-\bar\alpha_s)}{1-\bar\alpha_t}\,\sym{xt}{x_t} + \sym{sigmats}{\sigma_{t\to s}}\,\sym{z}{z}";

    const string OptimisationNote =
        "What stands in for the prior −log p(x): the regulariser λR (or, for plug-and-play, the diffusion model's denoiser in its prox). " +
        "There is no likelihood to approximate: the data term is exact, because nothing is sampled. The price: one answer for every seed, " +
        "reached slowly, one linear solve per iteration.";

    static string CsgmNote(string generator) =>
        $"What stands in for the prior: the {generator} G. The answer can only be an image G makes, found by optimisation (Adam on z from a few random starts, keeping the best): one answer per start, no sampling.";

    // Declared before All: static initialisers run in order.
    static readonly IReadOnlyList<FormulaLine> CsgmLines =
    [
        new("The code it searches for, and the answer:", @"\hat z = \arg\min_{\sym{zlat}{z}}\ \frac{\big\lVert \sym{y}{y} - \sym{A}{\mathcal A}(\sym{G}{G}(z))\big\rVert^2}{\sym{sigmay}{\sigma_y}^2} + \sym{lambda}{\lambda}\lVert z\rVert^2,\qquad \hat x = \hl{G(\hat z)}"),
    ];

    public static IReadOnlyList<SolverFormula> All { get; } =
    [
        new("ddpm", "1.4", "The network's guess x̂0, the only place the prior enters. y appears nowhere: DDPM samples the prior alone.",
        [
            new("One step from timestep t to the next kept s, drawn from q(x_s | x_t, x̂0):", DdpmStep),
            new("where", Tweedie + @",\qquad \sigma_{t\to s}^2 = \frac{(1-\bar\alpha_s)\,\beta_{t\to s}}{1-\bar\alpha_t},\qquad \beta_{t\to s} = 1-\frac{\bar\alpha_t}{\bar\alpha_s}"),
        ]),
        new("ddim", "1.5", "The network's terms, x̂0 and ε_θ, the only place the prior enters. y appears nowhere: DDIM samples the prior alone.",
        [
            new("One step from t to s:", @"\sym{xs}{x_s} = \sqrt{\sym{abar}{\bar\alpha_s}}\,\hl{\sym{x0hat}{\hat x_0}} + \sqrt{\max\!\left(0,\ 1-\bar\alpha_s-\sigma^2\right)}\;\hl{\sym{eps}{\varepsilon_\theta}(\sym{xt}{x_t},\sym{t}{t})} + \sigma \sym{z}{z}"),
            new("where", @"\sigma = \sym{eta}{\eta}\sqrt{\frac{1-\bar\alpha_s}{1-\bar\alpha_t}}\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_s}}\qquad(\eta = 0:\ \text{no noise at all})"),
        ]),
        new("reverse-sde", "1.6", "The score s_θ, the only place the prior enters. y appears nowhere: the reverse SDE samples the prior alone.",
        [
            new("One Euler–Maruyama step of the reverse-time SDE, from u(t) to u(s):", @"\sym{xt}{x} \leftarrow x + \left(\tfrac12\sym{betau}{\beta}\,x + \beta\,\hl{\sym{score}{s_\theta}(x,\sym{t}{t})}\right)\sym{du}{\Delta u} + \sqrt{\beta\,\Delta u}\;\sym{z}{z}"),
            new("where", @"s_\theta(x,t) = -\frac{\sym{eps}{\varepsilon_\theta}(x,t)}{\sqrt{1-\sym{abar}{\bar\alpha_t}}},\qquad \beta = T\beta_t,\qquad u(t) = \frac{t+1}{T}"),
        ]),
        new("probability-flow", "1.7", "The score s_θ, the only place the prior enters. No noise is drawn and y appears nowhere.",
        [
            new("Euler, one network call per step:", @"\sym{xt}{x} \leftarrow x + \sym{v}{v}(x,\sym{t}{t})\,\sym{du}{\Delta u},\qquad v(x,t) = \tfrac12 T\beta_t\left[x + \hl{\sym{score}{s_\theta}(x,t)}\right]"),
            new("Heun (the default), two calls:", @"\tilde x = x + v(x,t)\,\Delta u,\qquad x \leftarrow x + \tfrac12\left[v(x,t) + v(\tilde x,\sym{s}{s})\right]\Delta u"),
        ]),
        new("sdedit", "3", "What stands in for ∇log p_t(y | x_t): nothing after the start. y only chooses where the reverse process begins, through the guide x^g.",
        [
            new("The start: the guide, pushed into noise up to the strength t0:", @"x_{t_{\text{start}}} = \sqrt{\bar\alpha_{t_{\text{start}}}}\;\hl{\sym{xg}{x^g}} + \sqrt{1-\bar\alpha_{t_{\text{start}}}}\;\sym{z}{z},\qquad \hl{x^g = \sym{Adag}{\mathcal A^\dagger}(\sym{y}{y})}"),
            new("then plain DDPM steps from t_start down to the clean end (A is never used again):", @"t_{\text{start}} = \operatorname{clamp}\!\left(\operatorname{round}(\sym{t0}{t_0}\,T) - 1,\ 0,\ T-1\right),\qquad \sym{xs}{x_s} = \text{DDPM}(\sym{xt}{x_t}, \sym{x0hat}{\hat x_0})"),
        ]),
        new("score-ald", "4", "What stands in for ∇log p_t(y | x_t): a Gaussian likelihood evaluated at the current point itself, its variance widened by the current noise level.",
        [
            new("K Langevin steps at each noise level i = 1 … L:", @"\sym{xtil}{\tilde x} \leftarrow \tilde x + \sym{alphai}{\alpha_i}\left[\sym{score}{s}(\tilde x, t_i) + \hl{\frac{\sym{AT}{\mathcal A^\top}\!\left(\sym{y}{y} - \sym{A}{\mathcal A}\tilde x\right)}{\sym{sigmay}{\sigma_y}^2 + \sym{gammai}{\gamma_i}^2}}\right] + \sqrt{2\alpha_i}\;\sym{z}{z}"),
            new("where", @"\alpha_i = \sym{epsstep}{\epsilon}\,\frac{\sym{sigmai}{\sigma_i}^2}{\sigma_L^2},\qquad \gamma_i = \sigma_i,\qquad \tilde x = \frac{\sym{xt}{x_t}}{\sqrt{\sym{abar}{\bar\alpha_t}}},\qquad s = -\frac{\sym{eps}{\varepsilon_\theta}}{\sigma_i}"),
        ]),
        new("dps", "5", "What stands in for ∇log p_t(y | x_t): the likelihood at the network's guess, p(y | x_0 = x̂0(x_t)), its gradient taken through the network (a backward pass).",
        [
            new("One step from t to s: DDPM's step, then a push toward agreeing with y:", @"\sym{xs}{x_s} = x'_s - \hl{\sym{zeta}{\zeta}\,\nabla_{\sym{xt}{x_t}}\big\lVert \sym{y}{y} - \sym{A}{\mathcal A}(\sym{x0hat}{\hat x_0}(x_t))\big\rVert}"),
            new("where x'_s is DDPM's ancestral step from (x_t, x̂0), and x̂0 is Tweedie's estimate (the norm is not squared: this ζ is twice the ζ′ of the paper's Algorithm 1):", Tweedie),
        ]),
        new("diffpir", "15", "What stands in for ∇log p_t(y | x_t): an exact data step at every noise level. The network's guess is pulled to agree with y by a closed-form (or conjugate-gradient) solve, weighted by how noisy x_t still is.",
        [
            new("The data step on the network's guess x̂0^(t) (Tweedie's estimate of §1), HQS inside the diffusion:", @"\hat x_0 = \hl{\arg\min_x\ \big\lVert \sym{y}{y} - \sym{A}{\mathcal A}x\big\rVert^2 + \sym{rhot}{\rho_t}\,\big\lVert x - \sym{x0hat}{\hat x_0^{(t)}}\big\rVert^2},\qquad \rho_t = \sym{lambda}{\lambda}\,\frac{\sym{sigmay}{\sigma_y}^2}{\sym{sigmabar}{\bar\sigma_t}^2}"),
            new("then back to the next noise level s, mixing the implied noise with fresh noise by ζ:", @"\sym{xs}{x_s} = \sqrt{\sym{abar}{\bar\alpha_s}}\,\hat x_0 + \sqrt{1-\bar\alpha_s}\,\Big(\sqrt{1-\sym{zeta}{\zeta}}\,\hat\varepsilon + \sqrt{\zeta}\,\sym{z}{z}\Big),\qquad \hat\varepsilon = \frac{\sym{xt}{x_t} - \sqrt{\bar\alpha_t}\,\hat x_0}{\sqrt{1-\bar\alpha_t}}"),
        ]),
        new("ddrm", "16", "What stands in for ∇log p_t(y | x_t): in the corruption's own coordinates (its SVD), each coordinate y measured is taken from y where y is less noisy than x_t, and left to the network where A saw nothing.",
        [
            new("In the SVD coordinates, x̄ = Vᵀx_t/√ᾱ_t, ȳ = Σ⁺Uᵀy, σ_s = σ̄_s, per coordinate i:", @"\bar x_{s,i} = \begin{cases} \bar x_{\theta,i} + \sqrt{1-\sym{eta}{\eta}^2}\,\sigma_s\,\bar\varepsilon_i + \eta\sigma_s \sym{z}{z}_i & \sym{si}{s_i} = 0 \\ \bar x_{\theta,i} + \hl{\sqrt{1-\eta^2}\,\sigma_s\,\frac{\bar y_i - \bar x_{\theta,i}}{\sym{sigmay}{\sigma_y}/s_i}} + \eta\sigma_s z_i & s_i\sigma_s < \sigma_y \\ \hl{(1-\sym{etab}{\eta_b})\,\bar x_{\theta,i} + \eta_b\,\bar y_i} + \sqrt{\sigma_s^2 - \eta_b^2\sigma_y^2/s_i^2}\;z_i & s_i\sigma_s \ge \sigma_y \end{cases}"),
            new("where the network's guess and noise are read in the same coordinates, and the step returns to pixels:", @"\bar x_\theta = \sym{V}{V^\top}\sym{x0hat}{\hat x_0}(\sym{xt}{x_t}),\qquad \bar\varepsilon = V^\top\sym{eps}{\varepsilon_\theta}(x_t,\sym{t}{t}),\qquad \sym{xs}{x_s} = \sqrt{\sym{abar}{\bar\alpha_s}}\,V\bar x_s"),
        ]),
        new("pigdm", "17", "What stands in for ∇log p_t(y | x_t): the Gaussian guess p(x_0 | x_t) ≈ N(x̂0, r_t² I), which makes p(y | x_t) Gaussian; its score is a pseudo-inverse-like solve pulled back through the network.",
        [
            new("The guidance, one conjugate-gradient solve in measurement space and one backward pass:", @"g = \hl{\Big(\frac{\partial \sym{x0hat}{\hat x_0}}{\partial \sym{xt}{x_t}}\Big)^{\!\top} \sym{AT}{\mathcal A^\top}\big(\sym{rt}{r_t}^2\,\sym{A}{\mathcal A}\mathcal A^\top + \sym{sigmay}{\sigma_y}^2 I\big)^{-1}\big(\sym{y}{y} - \mathcal A\hat x_0\big)},\qquad r_t^2 = 1-\sym{abar}{\bar\alpha_t}"),
            new("then DDIM's step from t to s, pushed by g (the authors' code's weight, the default on images):", @"\sym{xs}{x_s} = \mathrm{DDIM}\big(\hat x_0,\ \sym{eps}{\varepsilon_\theta}(x_t,\sym{t}{t})\big) + \sqrt{\bar\alpha_s\,\bar\alpha_t}\;r_t^2\,g"),
        ]),
        new("daps", "18", "What stands in for ∇log p_t(y | x_t): at each level, Langevin steps on the clean image x0 given x_t and y, with p(x0 | x_t) taken as a Gaussian around the ODE's guess; the measurement's gradient goes through A only, never through the network.",
        [
            new("At level i: the network's noise-free guess (a few ODE steps), then Langevin on x_0 | x_t, y:", @"x_0 \leftarrow x_0 + \sym{etai}{\eta_i}\Big[\frac{\sym{x0hat}{\hat x_0}(\sym{xt}{x_t}) - x_0}{\sym{rt}{r_t}^2}\ \hl{-\ \nabla_{x_0}\frac{\lVert \sym{y}{y} - \sym{A}{\mathcal A}(x_0)\rVert^2}{2\sym{sigmay}{\sigma_y}^2}}\Big] + \sqrt{2\eta_i}\;\sym{z}{z},\qquad r_t = \sym{sigmabar}{\bar\sigma_t}"),
            new("then back up to the next level with fresh noise (an error is not carried along):", @"x_{t_{i+1}} \sim \mathcal N\big(x_0,\ \bar\sigma_{t_{i+1}}^2 I\big)"),
        ]),
        new("tds", "19", "What stands in for ∇log p_t(y | x_t): DPS-like guidance through a twist p̃_t(y | x_t), and weights that correct for it, so the particle cloud becomes exact as N grows.",
        [
            new("The twist and its gradient through the network (one forward and one backward pass for the cloud):", @"\hl{\tilde p_t(\sym{y}{y}\mid \sym{xt}{x_t}) = \mathcal N\big(y;\ \sym{A}{\mathcal A}(\sym{x0hat}{\hat x_0}(x_t)),\ (\sym{sigmay}{\sigma_y}^2 + \sym{rt}{r_t}^2)\,I\big)},\qquad g = \nabla_{x_t}\log\tilde p_t"),
            new("Propose DDPM's step tilted by g, and reweight each particle n:", @"\sym{xs}{x_s} = \mu(x_t) + \sigma^2 g + \sigma \sym{z}{z},\qquad \log \sym{wn}{w^n} \mathrel{+}= \log\frac{p(x_s\mid x_t)}{q(x_s\mid x_t, y)} + \log\frac{\tilde p_s(y\mid x_s)}{\tilde p_t(y\mid x_t)}"),
            new("and resample when the effective sample size drops below half of N:", @"\sym{ess}{\mathrm{ESS}} = \frac{1}{\sum_n (\tilde w^n)^2} < \kappa N"),
        ]),
        new("hqs", "6", OptimisationNote,
        [
            new("The one objective it minimises:", @"\sym{F}{F}(x) = \frac{1}{2\sym{sigmay}{\sigma_y}^2}\big\lVert \sym{y}{y} - \sym{A}{\mathcal A}x\big\rVert^2 + \hl{\sym{lambda}{\lambda} \sym{R}{R}(x)}"),
            new("Iteration k: a linear solve (data step), then the regulariser's clean-up (prior step), with a growing penalty:",
                @"\sym{xk}{x_{k+1}} = \left(\frac{\sym{AT}{\mathcal A^\top}\mathcal A}{\sigma_y^2} + \sym{mu}{\mu_k} I\right)^{-1}\!\left(\frac{\mathcal A^\top y}{\sigma_y^2} + \mu_k \sym{zk}{z_k}\right),\qquad z_{k+1} = \hl{\sym{prox}{\operatorname{prox}}_{(\lambda/\mu_k)R}}(x_{k+1}),\qquad \mu_k = \mu_0\cdot\text{growth}^{\sym{k}{k}}"),
        ]),
        new("admm", "6", OptimisationNote,
        [
            new("The one objective it minimises:", @"\sym{F}{F}(x) = \frac{1}{2\sym{sigmay}{\sigma_y}^2}\big\lVert \sym{y}{y} - \sym{A}{\mathcal A}x\big\rVert^2 + \hl{\sym{lambda}{\lambda} \sym{R}{R}(x)}"),
            new("Iteration k (scaled form, fixed ρ, u starts at 0):",
                @"\sym{xk}{x_{k+1}} = \left(\frac{\sym{AT}{\mathcal A^\top}\mathcal A}{\sigma_y^2} + \sym{rho}{\rho} I\right)^{-1}\!\left(\frac{\mathcal A^\top y}{\sigma_y^2} + \rho(\sym{zk}{z_k} - \sym{u}{u_k})\right),\quad z_{k+1} = \hl{\sym{prox}{\operatorname{prox}}_{(\lambda/\rho)R}}(x_{k+1} + u_k),\quad u_{k+1} = u_k + x_{k+1} - z_{k+1}"),
        ]),
        new("csgm-vae", null, CsgmNote("VAE's decoder"), CsgmLines),
        new("csgm-gan", null, CsgmNote("GAN's generator"), CsgmLines),
    ];

    static readonly FrozenDictionary<string, SolverFormula> ById = All.ToFrozenDictionary(f => f.SolverId, StringComparer.Ordinal);

    /// <summary>The formula of a catalog solver, or null where none has been written yet.</summary>
    public static SolverFormula? For(string? solverId) => solverId is null ? null : ById.GetValueOrDefault(solverId);

    static readonly Regex Symbol = new(@"\\sym\{([^{}]*)\}", RegexOptions.CultureInvariant);

    /// <summary>The keys that <c>\sym{key}{…}</c> names in some TeX, in order of first appearance.</summary>
    public static IReadOnlyList<string> SymbolKeys(IEnumerable<string> tex) =>
        tex.SelectMany(t => Symbol.Matches(t).Select(m => m.Groups[1].Value)).Distinct(StringComparer.Ordinal).ToList();
}
