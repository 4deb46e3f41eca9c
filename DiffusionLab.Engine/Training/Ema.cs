using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// An exponential moving average of a network's weights (the weights that are sampled from and
/// shipped). Early on the average uses a shorter memory, min(rate, (1 + n)/(10 + n)), so a young
/// average is not dominated by the random initialisation.
/// </summary>
public sealed class Ema(nn.Module source, nn.Module average, double rate)
{
    public double Rate { get; } = rate is > 0 and < 1 ? rate : throw new ArgumentOutOfRangeException(nameof(rate), "the EMA rate must lie in (0, 1)");
    public nn.Module Average { get; } = average;

    public static void CopyWeights(nn.Module from, nn.Module to)
    {
        using var _ = no_grad();
        var target = to.state_dict();
        foreach (var (name, tensor) in from.state_dict()) target[name].copy_(tensor);
    }

    public void Update(long step)
    {
        double decay = Math.Min(Rate, (1.0 + step) / (10.0 + step));
        using var _ = no_grad();
        var target = Average.state_dict();
        foreach (var (name, tensor) in source.state_dict())
        {
            var shadow = target[name];
            if (shadow.is_floating_point()) shadow.TimesInPlace(decay).PlusScaledInPlace(tensor, 1 - decay);
            else shadow.copy_(tensor);
        }
    }
}
