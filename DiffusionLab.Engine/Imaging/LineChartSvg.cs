using System.Globalization;
using System.Net;
using System.Text;

namespace DiffusionLab.Engine.Imaging;

/// <summary>One line of a chart: its name in the legend, its colour (CSS), and its points in order of x.</summary>
public sealed record ChartSeries(string Name, string Colour, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// A line chart as a self-contained SVG document (text is the browser's to draw, so it needs no
/// fonts on the server): axes with their ranges, one polyline per series, a legend. Used for
/// training curves in the docs and on the generators page.
/// </summary>
public static class LineChartSvg
{
    const int Left = 56, Right = 12, Top = 42, Bottom = 40;

    public static string Render(string title, string xLabel, IReadOnlyList<ChartSeries> series, int width = 640, int height = 280)
    {
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
        double xMin = points.Count > 0 ? points.Min(p => p.X) : 0, xMax = points.Count > 0 ? points.Max(p => p.X) : 1;
        double yMin = points.Count > 0 ? points.Min(p => p.Y) : 0, yMax = points.Count > 0 ? points.Max(p => p.Y) : 1;
        if (xMax <= xMin) xMax = xMin + 1;
        if (yMax <= yMin) { yMin -= 0.5; yMax += 0.5; }
        double plotWidth = width - Left - Right, plotHeight = height - Top - Bottom;
        string X(double x) => Number(Left + (x - xMin) / (xMax - xMin) * plotWidth);
        string Y(double y) => Number(Top + (yMax - y) / (yMax - yMin) * plotHeight);

        var svg = new StringBuilder();
        svg.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">");
        svg.Append($"<title>{Escape(title)}</title><rect width=\"{width}\" height=\"{height}\" fill=\"white\"/>");
        svg.Append($"<text x=\"{Left}\" y=\"16\" font-weight=\"bold\">{Escape(title)}</text>");
        // Axes, the zero line when it is in range, and the ranges at the ends of each axis.
        svg.Append($"<path d=\"M{Left} {Top}V{Top + plotHeight}H{Left + plotWidth}\" fill=\"none\" stroke=\"#444\"/>");
        if (yMin < 0 && yMax > 0) svg.Append($"<path d=\"M{Left} {Y(0)}H{Left + plotWidth}\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>");
        svg.Append($"<text x=\"{Left - 4}\" y=\"{Top + 4}\" text-anchor=\"end\">{Label(yMax)}</text>");
        svg.Append($"<text x=\"{Left - 4}\" y=\"{Top + plotHeight}\" text-anchor=\"end\">{Label(yMin)}</text>");
        svg.Append($"<text x=\"{Left}\" y=\"{Top + plotHeight + 16}\">{Label(xMin)}</text>");
        svg.Append($"<text x=\"{Left + plotWidth}\" y=\"{Top + plotHeight + 16}\" text-anchor=\"end\">{Label(xMax)}</text>");
        svg.Append($"<text x=\"{Left + plotWidth / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">{Escape(xLabel)}</text>");
        double legendX = Left + plotWidth;
        for (int i = series.Count - 1; i >= 0; i--)
        {
            var line = series[i];
            var finite = line.Points.Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y)).ToList();
            if (finite.Count > 0)
                svg.Append($"<polyline fill=\"none\" stroke=\"{Escape(line.Colour)}\" stroke-width=\"1.5\" points=\"{string.Join(' ', finite.Select(p => X(p.X) + "," + Y(p.Y)))}\"/>");
            // Legend entries right-aligned on the line below the title, last series rightmost.
            double textWidth = 7 * line.Name.Length;
            legendX -= textWidth + 22;
            svg.Append($"<rect x=\"{Number(legendX)}\" y=\"26\" width=\"12\" height=\"4\" fill=\"{Escape(line.Colour)}\"/>");
            svg.Append($"<text x=\"{Number(legendX + 16)}\" y=\"32\">{Escape(line.Name)}</text>");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    static string Number(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);

    static string Label(double v) => Math.Abs(v) >= 1000 ? v.ToString("0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    static string Escape(string text) => WebUtility.HtmlEncode(text);
}
