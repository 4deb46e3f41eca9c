using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// Optional side of a prior: ε together with the gradient, with respect to x_t, of a loss that is
/// a sum of per-sample terms (DPS's ‖y − A(x̂0)‖ per run). A prior shared by many runs implements
/// it to batch their guided steps: since each run's term depends only on its own samples, one
/// backward pass of the summed loss gives every run exactly its own gradient.
/// </summary>
public interface IGuidedDenoiser : IDenoiser
{
    /// <param name="xt">[B, ..SampleShape].</param>
    /// <param name="t">int64 [B], one timestep index per sample.</param>
    /// <param name="perSampleLoss">(x_t with gradients on, ε(x_t, t)) → loss [B]; sample b's loss may depend only on sample b.</param>
    GuidedPrediction PredictNoiseWithGradient(Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor> perSampleLoss);
}

/// <summary>ε [B, ..], ∇_{x_t} Σ_b loss_b [B, ..] and the loss values [B], all detached.</summary>
public sealed record GuidedPrediction(Tensor Epsilon, Tensor Gradient, Tensor Loss)
{
    /// <summary>The unbatched way: one forward with gradients on and one backward, on the caller's thread.</summary>
    public static GuidedPrediction Direct(IDenoiser prior, Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor> perSampleLoss)
    {
        using var scope = NewDisposeScope();
        using var withGradients = enable_grad();
        var x = xt.detach().requires_grad_(true);
        var eps = prior.PredictNoise(x, t);
        var loss = perSampleLoss(x, eps);
        var gradient = TorchSharp.torch.autograd.grad([loss.sum()], [x])[0];
        return new GuidedPrediction(eps.detach().MoveToOuterDisposeScope(), gradient.detach().MoveToOuterDisposeScope(),
            loss.detach().MoveToOuterDisposeScope());
    }
}
