using System.Globalization;

namespace DiffusionLab.Cli;

/// <summary>Option values the parser takes as text and the verbs read themselves.</summary>
static class CliValues
{
    /// <summary>"1,8" → [1, 8], or a usage error that names the option.</summary>
    public static IReadOnlyList<int> IntList(string value, string option)
    {
        try { return value.Split(',').Select(s => int.Parse(s, NumberStyles.Integer, CultureInfo.InvariantCulture)).ToArray(); }
        catch (Exception e) when (e is FormatException or OverflowException) { throw new CliUsageException($"{option} takes a comma-separated list of whole numbers, not '{value}'"); }
    }
}
