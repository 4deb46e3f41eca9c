using Spectre.Console;

namespace DiffusionLab.Cli;

/// <summary>The console verbs. Each verb is a static method taking its remaining arguments.</summary>
static partial class Verbs
{
    static readonly Dictionary<string, (string Help, Func<string[], Task<int>> Run)> Table = new();

    static void Register(string name, string help, Func<string[], Task<int>> run) => Table[name] = (help, run);

    public static async Task<int> RunAsync(string[] args)
    {
        RegisterAll();
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help" || !Table.ContainsKey(args[0]))
        {
            if (args.Length > 0 && !Table.ContainsKey(args[0]) && args[0] is not ("-h" or "--help" or "help"))
                AnsiConsole.MarkupLineInterpolated($"[red]Unknown verb '{args[0]}'.[/]");
            AnsiConsole.MarkupLine("usage: DiffusionLab.Cli <verb> [options]\n");
            foreach (var (name, (help, _)) in Table.OrderBy(p => p.Key))
                AnsiConsole.MarkupLineInterpolated($"  [bold]{name,-15}[/] {help}");
            return args.Length == 0 || args[0] is "-h" or "--help" or "help" ? 0 : 2;
        }
        try
        {
            return await Table[args[0]].Run(args[1..]);
        }
        catch (CliUsageException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 2;
        }
    }

    /// <summary>Every verb registers itself here (one partial method per verb file).</summary>
    static void RegisterAll()
    {
        foreach (var method in typeof(Verbs).GetMethods(System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
                     .Where(m => m.Name.StartsWith("Register_", StringComparison.Ordinal)))
            method.Invoke(null, null);
    }
}

/// <summary>A mistake in how a verb was called; printed without a stack trace.</summary>
sealed class CliUsageException(string message) : Exception(message);
