using DiffusionLab.Engine.Methods;
using System.Globalization;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>How a parameter is shown: its label with unit, and a slider step that suits its range.</summary>
public static class ParameterPresentation
{
    public static string Label(ParameterDefinition definition) =>
        definition.Unit.Length > 0 ? $"{definition.Label} ({definition.Unit})" : definition.Label;

    /// <summary>Whole numbers step by one; others by a round hundredth of their range.</summary>
    public static double Step(ParameterDefinition definition)
    {
        if (definition.IsInteger) return 1;
        var range = definition.Max - definition.Min;
        if (range <= 0 || double.IsInfinity(range)) return 0.01;
        var raw = range / 100;
        return Math.Pow(10, Math.Floor(Math.Log10(raw)));
    }

    public static string Number(double value) => value.ToString("0.####", CultureInfo.InvariantCulture);
}
