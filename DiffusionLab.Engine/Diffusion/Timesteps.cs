namespace DiffusionLab.Engine.Diffusion;

/// <summary>
/// Respacing (docs/maths.md §1): which of the T training timesteps a sampler with S steps visits.
/// </summary>
public static class Timesteps
{
    /// <summary>
    /// S timesteps spread evenly over [0, T−1], returned in the order a sampler visits them
    /// (descending, starting at T−1 and ending at 0). With S = T every timestep is visited.
    /// </summary>
    public static int[] Respace(int trainingSteps, int steps) => Respace(trainingSteps, steps, trainingSteps - 1);

    /// <summary>S timesteps spread evenly over [0, start], descending, for samplers that start part-way (SDEdit).</summary>
    public static int[] Respace(int trainingSteps, int steps, int start)
    {
        if (trainingSteps < 1) throw new ArgumentOutOfRangeException(nameof(trainingSteps));
        if (start < 0 || start >= trainingSteps) throw new ArgumentOutOfRangeException(nameof(start), $"start must be in [0, {trainingSteps - 1}]");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), "at least one step");
        steps = Math.Min(steps, start + 1);
        var result = new int[steps];
        for (int i = 0; i < steps; i++)
        {
            // i = 0 → start, i = steps−1 → 0; rounding keeps the ends exact and the rest strictly decreasing.
            result[i] = steps == 1 ? start : (int)Math.Round(start * (steps - 1 - i) / (double)(steps - 1));
        }
        return result;
    }

    /// <summary>
    /// L noise levels spaced geometrically in the VE noise level σ_t = √((1−ᾱ_t)/ᾱ_t), from the
    /// schedule's largest (t = T−1) to its smallest (t = 0), each mapped to the timestep whose σ_t is
    /// nearest in log scale, descending. This is NCSN's ladder σ_i = σ_1 (σ_L/σ_1)^((i−1)/(L−1)),
    /// the one annealed Langevin dynamics was designed for: every level is a fixed fraction below the
    /// last. Where the schedule's own levels are further apart than the ladder's (near t = 0) two
    /// neighbouring levels can fall on the same timestep; the ladder then simply lingers there.
    /// </summary>
    public static int[] GeometricInSigma(NoiseSchedule schedule, int levels)
    {
        if (levels < 1) throw new ArgumentOutOfRangeException(nameof(levels), "at least one level");
        var logSigma = schedule.AlphasCumprod.Select(a => 0.5 * Math.Log((1 - a) / a)).ToArray();
        int last = logSigma.Length - 1;
        var result = new int[levels];
        for (int i = 0; i < levels; i++)
        {
            double target = levels == 1 ? logSigma[last] : logSigma[last] + (logSigma[0] - logSigma[last]) * i / (levels - 1);
            // σ_t increases with t, so the nearest level is next to the first one above the target.
            int above = Array.FindIndex(logSigma, l => l >= target);
            if (above < 0) above = last;
            result[i] = above > 0 && target - logSigma[above - 1] < logSigma[above] - target ? above - 1 : above;
        }
        return result;
    }
}
