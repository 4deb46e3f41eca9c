using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// Deterministic DDIM (η = 0, Song et al. 2021) for the trainer's progress grids: the fewest
/// lines that show what the network has learnt. The lab's solvers live in Solvers/.
/// </summary>
public static class PreviewSampler
{
    public static Tensor Sample(IDenoiser prior, int count, int steps, long seed)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var generator = new Generator((ulong)seed);
        var x = randn([count, .. prior.SampleShape], generator: generator);
        var visits = Timesteps.Respace(prior.Schedule.TrainingSteps, steps);
        for (int i = 0; i < visits.Length; i++)
        {
            int t = visits[i], previous = i + 1 < visits.Length ? visits[i + 1] : -1;
            double alphaBar = prior.Schedule.AlphaBar(t), alphaBarPrevious = prior.Schedule.AlphaBar(previous);
            var eps = prior.PredictNoise(x, ScalarArithmetic.Full([count], (long)t, int64));
            var x0Hat = (x - eps.Times(Math.Sqrt(1 - alphaBar))).DividedBy(Math.Sqrt(alphaBar)).Clamped(-1, 1);
            var epsConsistent = (x - x0Hat.Times(Math.Sqrt(alphaBar))).DividedBy(Math.Sqrt(1 - alphaBar));
            x = x0Hat.Times(Math.Sqrt(alphaBarPrevious)).Plus(epsConsistent.Times(Math.Sqrt(1 - alphaBarPrevious)));
        }
        return x.Clamped(-1, 1).MoveToOuterDisposeScope();
    }
}
