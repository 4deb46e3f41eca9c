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

    public static string Number(double value) => NumberText.Setting(value);

    /// <summary>
    /// A slider's value on its step: a slider adds steps in floating point, and 0.9 arrived as
    /// 0.8999999999999999 in the controls, the link and the captions.
    /// </summary>
    public static double Snapped(ParameterDefinition definition, double value)
    {
        var step = Step(definition);
        var decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(step)), 0, 10);
        return Math.Clamp(Math.Round(Math.Round(value / step) * step, decimals), definition.Min, definition.Max);
    }

    /// <summary>A typed value without the float noise of its conversion (six decimals are more than any setting needs).</summary>
    public static double Typed(double value) => double.IsFinite(value) ? Math.Round(value, 6) : value;
}
