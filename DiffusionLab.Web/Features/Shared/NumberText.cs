using System.Globalization;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// Every number the server writes into a page, in one place: a fixed number of decimals, the
/// same on every machine (invariant culture), a dash for a number that is not known, and values
/// rounded for reading (ζ = 0.9, never 0.8999999999999999).
/// </summary>
public static class NumberText
{
    public const string Missing = "–";

    /// <summary><paramref name="value"/> with exactly <paramref name="decimals"/> decimals, or a dash when it is not finite.</summary>
    public static string Fixed(double value, int decimals) =>
        double.IsFinite(value) ? value.ToString("F" + decimals, CultureInfo.InvariantCulture) : Missing;

    /// <summary>A setting as a person writes it: at most four significant decimals, trailing zeros dropped (0.9, 250, 0.0125).</summary>
    public static string Setting(double value) =>
        double.IsFinite(value) ? Math.Round(value, 4).ToString("0.####", CultureInfo.InvariantCulture) : Missing;

    /// <summary>A wait or a run's length in words a student reads at a glance: "8 s", "about 2 min".</summary>
    public static string Duration(TimeSpan span) => span.TotalSeconds switch
    {
        < 1 => "under a second",
        < 90 => $"{Math.Ceiling(span.TotalSeconds).ToString("0", CultureInfo.InvariantCulture)} s",
        _ => $"{Math.Ceiling(span.TotalMinutes).ToString("0", CultureInfo.InvariantCulture)} min",
    };
}
