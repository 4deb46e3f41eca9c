using DiffusionLab.Engine.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Benchmarks;

public class SlicedWassersteinTests
{
    [Fact]
    public void In_one_dimension_it_is_the_exact_wasserstein_distance()
    {
        using var a = tensor(new[] { 0.0, 1.0 }).unsqueeze(1);
        using var b = tensor(new[] { 3.0, 2.0 }).unsqueeze(1);
        Assert.Equal(2.0, SlicedWasserstein.Distance(a, b, seed: 1), 10);
        Assert.Equal(2.0, SlicedWasserstein.Distance(a, b, seed: 1, p: 1), 10);

        // Unequal sizes: {0} against {−1, 1} is 1 in every W_p; {0, 0, 3} against {0, 3} is √(1/6 · 9).
        using var single = tensor(new[] { 0.0 }).unsqueeze(1);
        using var pair = tensor(new[] { -1.0, 1.0 }).unsqueeze(1);
        Assert.Equal(1.0, SlicedWasserstein.Distance(single, pair, seed: 1), 10);
        using var three = tensor(new[] { 0.0, 0.0, 3.0 }).unsqueeze(1);
        using var two = tensor(new[] { 0.0, 3.0 }).unsqueeze(1);
        Assert.Equal(Math.Sqrt(9.0 / 6), SlicedWasserstein.Distance(three, two, seed: 1), 10);
    }

    [Fact]
    public void A_shifted_copy_is_the_shift_length_over_root_d_away()
    {
        // W2 along θ of a translate by c is |θ·c|; averaged over the sphere E[(θ·c)²] = |c|²/D.
        using var generator = new Generator(2);
        using var x = randn([500, 4], float64, generator: generator);
        using var shift = tensor(new[] { 3.0, 0, 0, 4.0 });
        using var shifted = x + shift;
        double distance = SlicedWasserstein.Distance(x, shifted, seed: 5, projections: 1000);
        Assert.InRange(distance, 0.95 * 5 / 2.0, 1.05 * 5 / 2.0);
        Assert.Equal(0.0, SlicedWasserstein.Distance(x, x, seed: 5), 12);
    }

    [Fact]
    public void The_same_seed_gives_the_same_distance()
    {
        using var generator = new Generator(3);
        using var x = randn([100, 3], generator: generator);
        using var y = randn([150, 3], generator: generator) + 1;
        Assert.Equal(SlicedWasserstein.Distance(x, y, seed: 9), SlicedWasserstein.Distance(x, y, seed: 9));
    }
}
