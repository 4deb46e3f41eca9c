using System.Globalization;
using System.Text;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>One line of a chart: a name, a colour, and values by step (NaN values leave a gap).</summary>
public sealed record ChartSeries(string Name, string Color, IReadOnlyList<double> Steps, IReadOnlyList<double> Values);

/// <summary>
/// Maps series onto an SVG viewBox: the polylines' points and round axis ticks, so the chart
/// component only draws what it is given.
/// </summary>
public sealed class ChartGeometry
{
    public const double Width = 400, Height = 160, Left = 44, Right = 10, Top = 10, Bottom = 26;

    public ChartGeometry(IReadOnlyList<ChartSeries> series, int totalSteps, bool logScale = false, double reference = double.NaN)
    {
        LogScale = logScale;
        var values = series.SelectMany(s => s.Values).Where(v => double.IsFinite(v) && (!logScale || v > 0)).Select(Transform).ToList();
        var hasReference = double.IsFinite(reference) && (!logScale || reference > 0) && values.Count > 0;
        if (hasReference) values.Add(Transform(reference));
        HasData = values.Count > 0;
        double low = values.Count > 0 ? values.Min() : 0, high = values.Count > 0 ? values.Max() : 1;
        if (high - low < 1e-9) { low -= 0.5; high += 0.5; }
        var pad = (high - low) * 0.05;
        YMin = low - pad;
        YMax = high + pad;
        XMax = Math.Max(1, totalSteps - 1);
        Lines = series.Select(s => (s, Points(s))).ToList();
        ReferenceY = hasReference ? MapY(Transform(reference)) : null;
    }

    /// <summary>Where the reference level (a yardstick) is drawn, in viewBox units; null for none.</summary>
    public double? ReferenceY { get; }

    public bool LogScale { get; }

    /// <summary>False before the first step (or when every value is missing): the chart shows a note instead of axes.</summary>
    public bool HasData { get; }
    public double YMin { get; }
    public double YMax { get; }
    public double XMax { get; }
    public IReadOnlyList<(ChartSeries Series, string Points)> Lines { get; }

    public double PlotRight => Width - Right;
    public double PlotBottom => Height - Bottom;

    public IEnumerable<(double Y, string Label)> YTicks()
    {
        for (var i = 0; i <= 3; i++)
        {
            var value = YMin + (YMax - YMin) * i / 3;
            var label = LogScale ? Pow10Label(value) : TickLabel(value, YMax - YMin);
            yield return (MapY(value), label);
        }
    }

    public IEnumerable<(double X, string Label)> XTicks()
    {
        for (var i = 0; i <= 4; i++)
        {
            var step = Math.Round(XMax * i / 4);
            yield return (MapX(step), (step + 1).ToString(CultureInfo.InvariantCulture));
        }
    }

    /// <summary>A round tick label: as many decimals as the span needs to tell ticks apart, never more (0.25, 31.2, 40).</summary>
    internal static string TickLabel(double value, double span)
    {
        var decimals = span <= 0 || !double.IsFinite(span) ? 2 : Math.Clamp((int)Math.Ceiling(-Math.Log10(span / 3)) + 1, 0, 4);
        var text = Math.Round(value, decimals).ToString("F" + decimals, CultureInfo.InvariantCulture);
        return text == "-" + 0.0.ToString("F" + decimals, CultureInfo.InvariantCulture) ? text[1..] : text;
    }

    static string Format(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    double Transform(double v) => LogScale ? Math.Log10(v) : v;

    double MapX(double step) => Left + (PlotRight - Left) * step / XMax;

    double MapY(double value) => PlotBottom - (PlotBottom - Top) * (value - YMin) / (YMax - YMin);

    static string Pow10Label(double exponent)
    {
        var value = Math.Pow(10, exponent);
        return value >= 100 ? value.ToString("0", CultureInfo.InvariantCulture) : value.ToString("G2", CultureInfo.InvariantCulture);
    }

    string Points(ChartSeries series)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < series.Values.Count && i < series.Steps.Count; i++)
        {
            var v = series.Values[i];
            if (!double.IsFinite(v) || (LogScale && v <= 0)) continue;
            builder.Append(Format(MapX(series.Steps[i]))).Append(',').Append(Format(MapY(Transform(v)))).Append(' ');
        }
        return builder.ToString();
    }
}
