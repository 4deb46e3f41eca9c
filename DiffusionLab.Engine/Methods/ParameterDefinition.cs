using System.Globalization;

namespace DiffusionLab.Engine.Methods;

/// <summary>
/// One tunable number of a corruption or solver: its bounds, default and the words the
/// lab shows beside it. Choices are stored as their index (e.g. regulariser 0 = Tikhonov).
/// </summary>
public sealed record ParameterDefinition(
    string Key,
    string Label,
    double Min,
    double Max,
    double Default,
    string Description,
    bool IsInteger = false,
    string Unit = "",
    IReadOnlyList<string>? Choices = null,
    bool ScalesWithImage = false)
{
    /// <summary>The image side the defaults are set for: the bundled priors' 32 pixels.</summary>
    public const long ReferenceImageSide = 32;

    /// <summary>
    /// The default for images <paramref name="imageSide"/> pixels wide. A length in pixels (a hole, a kernel, a blur width)
    /// that suits 32×32 images grows with the image, so a 256×256 prior gets a hole of the same share of its picture;
    /// rounded for whole numbers and held to the range. Every other default is the same at every size.
    /// </summary>
    public double DefaultFor(long imageSide)
    {
        if (!ScalesWithImage || imageSide <= 0 || imageSide == ReferenceImageSide) return Default;
        double scaled = Default * imageSide / ReferenceImageSide;
        if (IsInteger) scaled = Math.Round(scaled);
        return Math.Clamp(scaled, Min, Max);
    }

    /// <summary>A problem in plain words, or null when the value is allowed.</summary>
    public string? Validate(double value)
    {
        if (double.IsNaN(value) || double.IsInfinity(value)) return $"{Label} must be a number.";
        if (Choices is { Count: > 0 })
        {
            if (value != Math.Floor(value) || value < 0 || value >= Choices.Count)
                return $"{Label} must be one of: {string.Join(", ", Choices)}.";
            return null;
        }
        if (IsInteger && value != Math.Floor(value)) return $"{Label} must be a whole number.";
        if (value < Min || value > Max)
            return $"{Label} must be between {Format(Min)} and {Format(Max)}{(Unit.Length > 0 ? " " + Unit : "")}.";
        return null;
    }

    static string Format(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
