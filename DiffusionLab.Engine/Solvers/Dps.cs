using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Solvers;

/// <summary>
/// Diffusion posterior sampling (Chung et al. 2023, Algorithm 1), respaced:
/// x̂0 = Tweedie(x_i); x'_{i−1} = ancestral step from (x_i, x̂0); x_{i−1} = x'_{i−1} − ζ ∇_{x_i} ‖y − A(x̂0)‖.
/// ζ multiplies the gradient of the residual norm itself (not its square), as the official code
/// does; Algorithm 1's ζ_i = ζ'/‖y − A(x̂0)‖ on the squared norm is the same step with ζ' = ζ/2.
/// Each sample's norm is its own (the noise model's per-sample norm), so a batch of independent
/// runs gets exactly the guidance each would get alone; a prior shared by several runs (the run
/// scheduler's) computes the gradient of all their norms in one backward pass for that reason.
/// A may be nonlinear: only its autograd is used. With <paramref name="learnedVariance"/> the ancestral step draws with
/// the variance an ADM network with learned σ predicts, as DPS's code samples ffhq_10m; that value comes from one more
/// forward pass without gradient per step, since the guided call returns ε alone.
/// </summary>
public sealed class Dps(double zeta, bool clipX0Hat, bool learnedVariance = false) : ISolver
{
    public string Id => "dps";
    public double Zeta => zeta;

    public IEnumerable<SolverStep> Solve(SolverContext context)
    {
        if (!(zeta >= 0) || double.IsInfinity(zeta)) throw new SolverException("DPS's step size ζ must be a number of at least 0.");
        var measurement = context.RequireMeasurement("DPS");
        var y = context.Y ?? throw new SolverException("DPS needs a measurement y.");
        var prior = new CountedPrior(context.Prior);
        if (learnedVariance) prior.RequireLearnedVariance("DPS");
        var timesteps = Timesteps.Respace(prior.Schedule.TrainingSteps, context.Steps);
        using var iterate = new CurrentIterate(context.Normal());
        for (int i = 0; i < timesteps.Length; i++)
        {
            int t = timesteps[i], s = i + 1 < timesteps.Length ? timesteps[i + 1] : -1;
            double[] residual = [];
            iterate.Advance(() =>
            {
                var guided = prior.EpsilonWithGradient(iterate.X, t, (x, eps) =>
                {
                    var estimate = prior.X0Hat(x, eps, t);
                    if (clipX0Hat) estimate = estimate.Clamped(-1, 1);
                    return context.Noise.ResidualNorm(y, measurement.Forward(estimate)); // [B], one per run
                });
                // A residual of exactly zero (it happens in float32) has no gradient, only the subgradient 0; autograd's sqrt gives NaN there.
                var atZero = Tweedie.PerSample(guided.Loss.EqualTo(0), guided.Gradient).to(@bool);
                var gradient = guided.Gradient.FilledWhere(atZero, 0);
                if (!gradient.isfinite().all().item<bool>())
                    throw new SolverException($"DPS's guidance gradient became infinite or NaN at step {i + 1} (t = {t}). Try a smaller ζ (now {zeta}) or turn on x̂0 clipping.");
                residual = guided.Loss.to(float64).data<double>().ToArray();
                var x0Hat = prior.X0Hat(iterate.X, guided.Epsilon, t);
                if (clipX0Hat) x0Hat = x0Hat.Clamped(-1, 1);
                var z = context.Normal();
                Tensor next;
                if (learnedVariance)
                {
                    using var _ = no_grad();
                    var (_, _, value) = prior.DenoiseWithVariance(iterate.X, t);
                    next = ReverseUpdate.AncestralLearned(iterate.X, x0Hat, prior.AlphaBar(t), prior.AlphaBar(s), z, value);
                }
                else next = ReverseUpdate.Ancestral(iterate.X, x0Hat, prior.AlphaBar(t), prior.AlphaBar(s), z);
                return (next - gradient.Times(zeta), x0Hat);
            });
            yield return iterate.Report(context, i, timesteps.Length, s, prior.Evaluations, residual);
        }
    }
}
