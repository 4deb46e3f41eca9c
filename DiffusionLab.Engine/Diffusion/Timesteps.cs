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
}
