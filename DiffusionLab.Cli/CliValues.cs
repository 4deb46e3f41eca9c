using DiffusionLab.Engine.Methods;
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

    /// <summary>
    /// "dps.zeta=0.2,score-ald.spacing=1" → per solver id, the settings to change, each checked against
    /// the solver's own definition; a usage error that names the option otherwise.
    /// </summary>
    public static IReadOnlyDictionary<string, Dictionary<string, double>> SolverSettings(string? value, IReadOnlyList<SolverDescriptor> solvers, string option)
    {
        var result = new Dictionary<string, Dictionary<string, double>>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(value)) return result;
        foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dot = part.IndexOf('.'), equals = part.IndexOf('=');
            if (dot < 1 || equals < dot + 2 || !double.TryParse(part[(equals + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
                throw new CliUsageException($"{option} takes SOLVER.KEY=VALUE, not '{part}'");
            string id = part[..dot], key = part[(dot + 1)..equals];
            var solver = solvers.FirstOrDefault(s => s.Id == id)
                ?? throw new CliUsageException($"{option}: there is no solver '{id}' here (one of: {string.Join(", ", solvers.Select(s => s.Id))})");
            var definition = solver.Parameters.FirstOrDefault(p => p.Key == key)
                ?? throw new CliUsageException($"{option}: {id} has no setting '{key}' (it has: {string.Join(", ", solver.Parameters.Select(p => p.Key))})");
            if (definition.Validate(number) is { } problem) throw new CliUsageException($"{option}: {problem}");
            (result.TryGetValue(id, out var settings) ? settings : result[id] = new(StringComparer.Ordinal))[key] = number;
        }
        return result;
    }
}
