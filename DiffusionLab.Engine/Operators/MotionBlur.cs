using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// Motion blur: the camera shook while the shutter was open. The kernel is the path of a
/// shaking camera, drawn once from the run's seed (never per call, a known DPS trap) and
/// normalised to sum to 1; reflect padding at the border, as for the Gaussian blur.
/// </summary>
/// <remarks>
/// The path follows the idea of the random-trajectory kernels DPS uses (the <c>motionblur</c>
/// package): a point moves in a random direction and turns a little at every step; the
/// intensity (0…1) sets how much it turns, so 0 gives a straight streak and 1 a jagged
/// scribble. The path is centred, shrunk to fit the kernel, and splatted bilinearly.
/// </remarks>
public sealed class MotionBlur : ConvolutionBlur
{
    public const string CatalogId = "motion-blur";
    const int PathSteps = 64;

    public MotionBlur(long[] sampleShape, int kernelSize, double intensity, int seed)
        : base(CatalogId, sampleShape, TrajectoryKernel(kernelSize, intensity, seed))
    {
        KernelSize = kernelSize;
        Intensity = intensity;
    }

    public int KernelSize { get; }
    public double Intensity { get; }

    /// <summary>The kernel this seed gives: the same numbers for the same (size, intensity, seed).</summary>
    public static double[,] TrajectoryKernel(int kernelSize, double intensity, int seed)
    {
        if (kernelSize < 1) throw new ArgumentOutOfRangeException(nameof(kernelSize), "The blur kernel needs at least one pixel.");
        if (intensity < 0 || intensity > 1) throw new ArgumentOutOfRangeException(nameof(intensity), "The shake intensity must be between 0 and 1.");
        var kernel = new double[kernelSize, kernelSize];
        if (kernelSize == 1) { kernel[0, 0] = 1; return kernel; }

        double[] uniforms, turns;
        using (var generator = SeededGenerator(seed, CatalogId))
        using (var u = rand(2, float64, generator: generator))
        using (var n = randn(PathSteps, float64, generator: generator))
        {
            uniforms = u.data<double>().ToArray();
            turns = n.data<double>().ToArray();
        }

        // Walk: start heading in a random direction; each step turns by intensity × N(0, (π/3)²).
        double heading = 2 * Math.PI * uniforms[0];
        double stepLength = (kernelSize - 1) * (0.6 + 0.4 * uniforms[1]) / PathSteps;
        var xs = new double[PathSteps + 1];
        var ys = new double[PathSteps + 1];
        for (int i = 0; i < PathSteps; i++)
        {
            heading += intensity * Math.PI / 3 * turns[i];
            xs[i + 1] = xs[i] + stepLength * Math.Cos(heading);
            ys[i + 1] = ys[i] + stepLength * Math.Sin(heading);
        }

        // Centre the path's bounding box on the kernel and shrink it if it would leave the kernel.
        double midX = (xs.Max() + xs.Min()) / 2, midY = (ys.Max() + ys.Min()) / 2;
        double reach = Math.Max(Math.Max(xs.Max() - midX, ys.Max() - midY), 1e-12);
        double halfWidth = (kernelSize - 1) / 2.0;
        double scale = Math.Min(1.0, halfWidth / reach);
        for (int i = 0; i <= PathSteps; i++)
        {
            double col = Math.Clamp(halfWidth + (xs[i] - midX) * scale, 0, kernelSize - 1);
            double row = Math.Clamp(halfWidth + (ys[i] - midY) * scale, 0, kernelSize - 1);
            SplatBilinear(kernel, row, col);
        }

        double total = kernel.Cast<double>().Sum();
        for (int i = 0; i < kernelSize; i++)
            for (int j = 0; j < kernelSize; j++)
                kernel[i, j] /= total;
        return kernel;
    }

    static void SplatBilinear(double[,] kernel, double row, double col)
    {
        int size = kernel.GetLength(0);
        int r0 = (int)Math.Floor(row), c0 = (int)Math.Floor(col);
        int r1 = Math.Min(r0 + 1, size - 1), c1 = Math.Min(c0 + 1, size - 1);
        double fr = row - r0, fc = col - c0;
        kernel[r0, c0] += (1 - fr) * (1 - fc);
        kernel[r0, c1] += (1 - fr) * fc;
        kernel[r1, c0] += fr * (1 - fc);
        kernel[r1, c1] += fr * fc;
    }
}
