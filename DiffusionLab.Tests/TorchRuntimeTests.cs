using DiffusionLab.Engine.Diffusion;
using static TorchSharp.torch;

namespace DiffusionLab.Tests;

public class TorchRuntimeTests
{
    [Fact]
    public void Torch_loads_and_computes()
    {
        using var a = ones(3, 4);
        using var s = a.sum();
        Assert.Equal(12f, s.item<float>());
    }

    [Fact]
    public void Linear_schedule_matches_ho_et_al()
    {
        var s = NoiseSchedule.Linear(1000);
        Assert.Equal(1e-4, s.Betas[0], 12);
        Assert.Equal(0.02, s.Betas[999], 12);
        // ᾱ_T for the linear schedule is about 4.0e-5 (Ho et al. 2020).
        Assert.InRange(s.AlphasCumprod[999], 3e-5, 5e-5);
    }

    [Fact]
    public void Respacing_visits_ends_and_decreases()
    {
        var t = Timesteps.Respace(1000, 50);
        Assert.Equal(50, t.Length);
        Assert.Equal(999, t[0]);
        Assert.Equal(0, t[^1]);
        for (int i = 1; i < t.Length; i++) Assert.True(t[i] < t[i - 1]);
    }
}
