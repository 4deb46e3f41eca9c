using System.Diagnostics;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Experiments;

// STAND-IN written on the web branch so the lab compiles and streams before the lead's Runner
// lands on main; it follows the planned API (and fakes a solver) and is replaced at the next merge.

public sealed class PreparedRun(ExperimentSpec spec, Tensor groundTruth, Tensor y, Tensor backProjection) : IDisposable
{
    public ExperimentSpec Spec { get; } = spec;
    public Tensor GroundTruth { get; } = groundTruth;
    public Tensor Y { get; } = y;
    public Tensor BackProjection { get; } = backProjection;

    public void Dispose()
    {
        GroundTruth.Dispose();
        Y.Dispose();
        BackProjection.Dispose();
    }
}

public sealed record RunProgress(int Index, int Total, int Timestep, Tensor Xt, Tensor X0Hat,
    double Residual, double Psnr, double Ssim, TimeSpan Elapsed, bool IsFinal) : IDisposable
{
    public void Dispose()
    {
        Xt.Dispose();
        X0Hat.Dispose();
    }
}

public static class Runner
{
    public static PreparedRun Prepare(ExperimentSpec spec)
    {
        var size = 32;
        var ramp = linspace(-1, 1, size);
        var gt = stack([ramp.unsqueeze(0).expand(size, size), ramp.unsqueeze(1).expand(size, size), ramp.unsqueeze(0).expand(size, size) * -1]);
        var mask = ones(3, size, size);
        mask[.., 10..22, 10..22] = zeros(3, 12, 12);
        var y = gt * mask;
        return new PreparedRun(spec, gt, y, y.clone());
    }

    public static IEnumerable<RunProgress> Run(PreparedRun prepared, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        var generator = new Generator((ulong)prepared.Spec.Seed);
        var total = prepared.Spec.Steps;
        var x = randn([3, 32, 32], generator: generator);
        for (var i = 0; i < total; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = NewDisposeScope();
            var w = (i + 1.0) / total;
            var x0Hat = (prepared.GroundTruth * w + x * (1 - w)).clamp(-1, 1);
            var xt = (x0Hat + randn([3, 32, 32], generator: generator) * (1 - w)).clamp(-3, 3);
            var mse = (x0Hat - prepared.GroundTruth).square().mean().item<float>();
            Thread.Sleep(5);
            var progress = new RunProgress(i, total, total - 1 - i, xt.MoveToOuterDisposeScope(), x0Hat.MoveToOuterDisposeScope(),
                Math.Sqrt(mse) * 10, 10 * Math.Log10(4 / Math.Max(mse, 1e-10)), w, clock.Elapsed, i == total - 1);
            yield return progress;
        }
    }
}
