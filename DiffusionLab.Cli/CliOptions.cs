using System.Globalization;

namespace DiffusionLab.Cli;

/// <summary>Minimal "--name value" / "--flag" parsing shared by the verbs.</summary>
sealed class CliOptions
{
    readonly Dictionary<string, string?> values = new(StringComparer.Ordinal);

    public CliOptions(string[] args, params string[] flags)
    {
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--", StringComparison.Ordinal)) throw new CliUsageException($"unexpected argument '{a}'");
            var name = a[2..];
            if (flags.Contains(name)) { values[name] = null; continue; }
            if (i + 1 >= args.Length) throw new CliUsageException($"--{name} needs a value");
            values[name] = args[++i];
        }
    }

    public bool Has(string name) => values.ContainsKey(name);

    public string String(string name, string fallback) => values.TryGetValue(name, out var v) && v is not null ? v : fallback;

    public int Int(string name, int fallback)
    {
        if (!values.TryGetValue(name, out var v) || v is null) return fallback;
        return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw new CliUsageException($"--{name} must be a whole number, not '{v}'");
    }

    public double Double(string name, double fallback)
    {
        if (!values.TryGetValue(name, out var v) || v is null) return fallback;
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new CliUsageException($"--{name} must be a number, not '{v}'");
    }

    public IReadOnlyList<int> IntList(string name, IReadOnlyList<int> fallback)
    {
        if (!values.TryGetValue(name, out var v) || v is null) return fallback;
        try { return v.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); }
        catch (FormatException) { throw new CliUsageException($"--{name} must be a comma-separated list of whole numbers, not '{v}'"); }
    }
}
