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
    IReadOnlyList<string>? Choices = null)
{
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
