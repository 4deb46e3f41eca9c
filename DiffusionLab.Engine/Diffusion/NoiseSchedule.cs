using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Diffusion;

/// <summary>
/// The variance schedule of a discrete-time DDPM with T training steps (docs/maths.md §1).
/// Timesteps are indexed 0 … T−1; ᾱ at index t is ∏_{s≤t} (1 − β_s).
/// </summary>
public sealed class NoiseSchedule
{
    public NoiseSchedule(string kind, double[] betas)
    {
        if (betas.Length < 2) throw new ArgumentException("a schedule needs at least two steps", nameof(betas));
        if (betas.Any(b => !(b > 0 && b < 1))) throw new ArgumentException("every beta must lie in (0, 1)", nameof(betas));
        Kind = kind;
        Betas = betas;
        AlphasCumprod = new double[betas.Length];
        double product = 1;
        for (int i = 0; i < betas.Length; i++)
        {
            product *= 1 - betas[i];
            AlphasCumprod[i] = product;
        }
    }

    /// <summary>"linear" or "cosine": how the betas were made (recorded in model cards).</summary>
    public string Kind { get; }
    public double[] Betas { get; }
    public double[] AlphasCumprod { get; }
    public int TrainingSteps => Betas.Length;

    /// <summary>Ho et al. (2020): β from 1e-4 to 0.02 over T steps (scaled by 1000/T as in improved DDPM).</summary>
    public static NoiseSchedule Linear(int trainingSteps = 1000)
    {
        double scale = 1000.0 / trainingSteps, start = scale * 1e-4, end = scale * 0.02;
        var betas = new double[trainingSteps];
        for (int i = 0; i < trainingSteps; i++)
            betas[i] = start + (end - start) * i / (trainingSteps - 1);
        return new NoiseSchedule("linear", betas);
    }

    /// <summary>Nichol &amp; Dhariwal (2021): ᾱ(t) = cos²((t/T + s)/(1 + s) · π/2), β clipped at 0.999.</summary>
    public static NoiseSchedule Cosine(int trainingSteps = 1000, double s = 0.008)
    {
        static double F(double u, double s) => Math.Pow(Math.Cos((u + s) / (1 + s) * Math.PI / 2), 2);
        var betas = new double[trainingSteps];
        for (int i = 0; i < trainingSteps; i++)
        {
            double a = F((double)i / trainingSteps, s), b = F((double)(i + 1) / trainingSteps, s);
            betas[i] = Math.Min(1 - b / a, 0.999);
        }
        return new NoiseSchedule("cosine", betas);
    }

    public static NoiseSchedule FromName(string kind, int trainingSteps) => kind switch
    {
        "linear" => Linear(trainingSteps),
        "cosine" => Cosine(trainingSteps),
        _ => throw new ArgumentException($"unknown noise schedule '{kind}' (expected linear or cosine)", nameof(kind)),
    };

    /// <summary>ᾱ at a timestep index; index −1 means "before any noise" and gives 1.</summary>
    public double AlphaBar(int t) => t < 0 ? 1.0 : AlphasCumprod[t];

    /// <summary>ᾱ gathered per sample as a float tensor of shape [B] (t is an int64 tensor of indices).</summary>
    public Tensor AlphaBar(Tensor t, Device? device = null)
    {
        using var table = tensor(AlphasCumprod, dtype: float64, device: device ?? t.device);
        using var gathered = table.index_select(0, t.to(int64));
        return gathered.to(float32);
    }

    /// <summary>Continuous VP-SDE time u ∈ (0, 1] of a timestep index, u = (t + 1) / T.</summary>
    public double ContinuousTime(int t) => (t + 1.0) / TrainingSteps;

    /// <summary>β(u) of the VP-SDE dx = −½β(u)x du + √β(u) dw at continuous time u, from the discrete betas (β(u) ≈ T·β_t).</summary>
    public double SdeBeta(int t) => Betas[t] * TrainingSteps;
}
