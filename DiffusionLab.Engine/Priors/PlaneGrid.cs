using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A rectangle of the plane sampled on Columns × Rows points, for drawing 2-D densities as heat
/// maps. Values come back row by row, row 0 at <see cref="YMin"/>, column 0 at <see cref="XMin"/>.
/// </summary>
public sealed record PlaneGrid(double XMin, double XMax, double YMin, double YMax, int Columns, int Rows)
{
    /// <summary>The grid points as a float64 tensor [Rows·Columns, 2].</summary>
    public Tensor Points()
    {
        if (Columns < 2 || Rows < 2) throw new ArgumentException("a grid needs at least 2 columns and 2 rows");
        using var scope = NewDisposeScope();
        var xs = linspace(XMin, XMax, Columns, dtype: float64);
        var ys = linspace(YMin, YMax, Rows, dtype: float64);
        var x = xs.unsqueeze(0).expand(Rows, Columns).reshape(-1);
        var y = ys.unsqueeze(1).expand(Rows, Columns).reshape(-1);
        return stack([x, y], 1).MoveToOuterDisposeScope();
    }

    internal static double[] ToArray(Tensor values)
    {
        using var contiguousValues = values.to(float64).contiguous();
        return contiguousValues.data<double>().ToArray();
    }
}
