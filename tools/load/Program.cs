using System.Diagnostics;
using System.Globalization;
using System.Net;
using DiffusionLab.Load;

// A load driver for a lab server on this machine (README.md beside this file): a class of students
// starting runs, a greedy client, a memory soak and the 2-D lab's Scene under load. It talks to
// loopback only, every scenario is bounded in clients and time, and it stops by itself.

Settings settings;
try
{
    settings = Settings.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine();
    Console.Error.WriteLine(Settings.Usage);
    return 2;
}
if (settings.Help)
{
    Console.WriteLine(Settings.Usage);
    return 0;
}

using var whole = new CancellationTokenSource(settings.MaxTotal);
Console.CancelKeyPress += (_, e) => { e.Cancel = true; whole.Cancel(); };
string loadBefore = LoadAverage();
var scenarios = new Scenarios(settings);
var results = new List<ScenarioResult>();
var servers = new List<string>();
var clock = Stopwatch.StartNew();
try
{
    foreach (var name in settings.ScenarioNames)
    {
        // A fresh server for each scenario when this tool starts it: one scenario's leftovers
        // (memory, queued runs) do not count against the next.
        using var server = settings.ServerDll is { } dll
            ? await LabServer.StartAsync(dll, settings.BaseAddress, settings.ServerSettings, settings.ServerLog, whole.Token)
            : LabServer.Attach(settings.BaseAddress, settings.Pid);
        if (!servers.Contains(server.Description)) servers.Add(server.Description);
        Console.WriteLine($"== {name} ({server.Description})");
        results.Add(name switch
        {
            "students" => await scenarios.StudentsAsync(server, whole.Token),
            "greedy" => await scenarios.GreedyAsync(server, whole.Token),
            "soak" => await scenarios.SoakAsync(server, whole.Token),
            "scene" => await scenarios.SceneAsync(server, whole.Token),
            _ => throw new InvalidOperationException(name),
        });
    }
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine($"stopped after {clock.Elapsed.TotalMinutes:0.0} min (the --max-minutes limit, or Ctrl+C): the finished scenarios are reported");
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or FileNotFoundException or HttpRequestException)
{
    Console.Error.WriteLine(e.Message);
    if (results.Count == 0) return 1;
}

var report = Report(settings, results, servers, loadBefore, LoadAverage(), clock.Elapsed);
Console.WriteLine();
Console.WriteLine(report);
File.AppendAllText(settings.ResultsFile, report + Environment.NewLine);
Console.WriteLine($"(appended to {settings.ResultsFile})");
return 0;

static string Report(Settings settings, List<ScenarioResult> results, List<string> servers, string loadBefore, string loadAfter, TimeSpan took)
{
    var text = new System.Text.StringBuilder();
    text.AppendLine(CultureInfo.InvariantCulture, $"## {settings.Label} — {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC");
    text.AppendLine();
    text.AppendLine(CultureInfo.InvariantCulture, $"Command: `{settings.CommandLine}`  ");
    text.AppendLine(CultureInfo.InvariantCulture, $"Server: {string.Join("; ", servers)}  ");
    text.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores, load average {loadBefore} before and {loadAfter} after (1, 5, 15 min); took {took.TotalMinutes:0.0} min.{(settings.Note is null ? "" : " " + settings.Note)}");
    text.AppendLine();
    text.AppendLine("| Target | Goal | Reported in the issue | Measured here | Met |");
    text.AppendLine("|---|---|---|---|---|");
    foreach (var row in results.SelectMany(r => r.Rows))
        text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Target} | {row.Goal} | {row.Reported} | {row.Measured} | {(row.Met switch { true => "yes", false => "no", null => "n/a" })} |");
    text.AppendLine();
    foreach (var result in results)
    {
        text.AppendLine(CultureInfo.InvariantCulture, $"- {result.Name}:");
        foreach (var line in result.Details) text.AppendLine(CultureInfo.InvariantCulture, $"  - {line}");
    }
    return text.ToString();
}

static string LoadAverage()
{
    try { return string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3)); }
    catch (IOException) { return "n/a"; }
}

/// <summary>What to run, against which server, with which bounds.</summary>
public sealed class Settings
{
    public const int MaxClients = 100, MaxGreedyRuns = 1000;

    public static readonly string Usage = """
        usage: dotnet run --project tools/load -c Release -- SCENARIO... [options]

        scenarios (any of them, in order; "all" is the four):
          students   N students (distinct browsers) each start one DPS run at once: time to first and final frame
          greedy     N-1 students alone, then again beside one client starting --greedy-runs runs: the median-wait ratio
          soak       --soak-clients clients run back to back for --soak-minutes, then idle --idle-minutes: resident memory
          scene      a lab run alone, then beside --scene-connections connections looping the 2-D lab's Scene: steps/s and memory

        server (one of):
          --server PATH.dll   start this DiffusionLab.Web.dll (Production, saved runs in memory) on --url's port,
                              a fresh one per scenario, and stop it after; its output goes to --server-log
          --pid PID           a server already running at --url, whose memory is read from /proc/PID/status
                              (without either, the server at --url is used and memory is not measured)
          --set KEY=VALUE     a setting for the started server, e.g. --set Lab:MaxConcurrentRuns=8 (repeatable)

        options (defaults in brackets):
          --url URL                loopback only [http://127.0.0.1:5610/]
          --students N             class size [30]
          --steps N                steps of every DPS run [250]
          --spec QUERY             every lab run's link query; {steps} and {seed} are filled in
                                   [prior=pixel-faces-32&image=gallery%3Aface-00010&solver=dps&steps={steps}&seed={seed}:
                                    the default prior, its first gallery image, box inpainting]
          --greedy-runs N          starts the greedy client tries [200]
          --soak-clients N         [30]
          --soak-minutes M         [1; the issue's figure is for 5]
          --idle-minutes M         [2]
          --soak-waves N           [1; 2 repeats the soak and the idle time once more, as a second lesson]
          --scene-connections N    [60]
          --scene-seconds S        each steps/s window [15]
          --scene-settle-seconds S wait after the Scene loops leave, before reading memory [30]
          --run-timeout-seconds S  longest wait for one run [240]
          --max-minutes M          the whole invocation stops after this [20]
          --results FILE           markdown appended here [tools/load/results.md]
          --server-log FILE        [/tmp/diffusionlab-load-server.log]
          --label TEXT             heading of the results section [the git commit of the current folder]
          --note TEXT              a sentence added beside the figures (e.g. how loaded the machine was)
        """;

    public bool Help { get; private init; }
    public List<string> ScenarioNames { get; } = [];
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1:5610/");
    public string? ServerDll { get; private set; }
    public int? Pid { get; private set; }
    public List<string> ServerSettings { get; } = [];
    public int Students { get; private set; } = 30;
    public int Steps { get; private set; } = 250;
    public int GreedyRuns { get; private set; } = 200;
    public string SpecTemplate { get; private set; } = "prior=pixel-faces-32&image=gallery%3Aface-00010&solver=dps&steps={steps}&seed={seed}";
    public int SoakClients { get; private set; } = 30;
    public TimeSpan SoakDuration { get; private set; } = TimeSpan.FromMinutes(1);
    public TimeSpan IdleAfter { get; private set; } = TimeSpan.FromMinutes(2);
    public int SoakWaves { get; private set; } = 1;
    public int SceneConnections { get; private set; } = 60;
    public TimeSpan SceneWindow { get; private set; } = TimeSpan.FromSeconds(15);
    public TimeSpan SceneSettle { get; private set; } = TimeSpan.FromSeconds(30);
    public TimeSpan RunTimeout { get; private set; } = TimeSpan.FromSeconds(240);
    public TimeSpan MaxTotal { get; private set; } = TimeSpan.FromMinutes(20);
    public string ResultsFile { get; private set; } = Path.Combine("tools", "load", "results.md");
    public string ServerLog { get; private set; } = Path.Combine(Path.GetTempPath(), "diffusionlab-load-server.log");
    public string Label { get; private set; } = GitLabel();
    public string? Note { get; private set; }
    public string CommandLine { get; private init; } = "";

    public static Settings Parse(string[] args)
    {
        var settings = new Settings { Help = args.Length == 0 || args.Contains("--help") || args.Contains("-h"), CommandLine = "dotnet run --project tools/load -c Release -- " + string.Join(' ', args.Select(Quote)) };
        for (int i = 0; i < args.Length; i++)
        {
            string arg = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{arg} needs a value");
            int Count(int min, int max)
            {
                string text = Value();
                if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
                    throw new ArgumentException($"{arg} must be a whole number from {min} to {max} (got '{text}')");
                return n;
            }
            TimeSpan Duration(double min, double max, Func<double, TimeSpan> unit)
            {
                string text = Value();
                if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) || !(d >= min && d <= max))
                    throw new ArgumentException($"{arg} must be a number from {min} to {max} (got '{text}')");
                return unit(d);
            }
            switch (arg)
            {
                case "all": settings.ScenarioNames.AddRange(["students", "greedy", "soak", "scene"]); break;
                case "students" or "greedy" or "soak" or "scene": settings.ScenarioNames.Add(arg); break;
                case "--help" or "-h": break;
                case "--url": settings.BaseAddress = Loopback(Value()); break;
                case "--server": settings.ServerDll = Value(); break;
                case "--pid": settings.Pid = Count(1, int.MaxValue); break;
                case "--set":
                    string setting = Value();
                    if (!setting.Contains('=') || setting.StartsWith('-')) throw new ArgumentException($"--set takes KEY=VALUE (got '{setting}')");
                    settings.ServerSettings.Add(setting);
                    break;
                case "--students": settings.Students = Count(1, MaxClients); break;
                case "--steps": settings.Steps = Count(1, 1000); break;
                case "--spec": settings.SpecTemplate = Value(); break;
                case "--greedy-runs": settings.GreedyRuns = Count(1, MaxGreedyRuns); break;
                case "--soak-clients": settings.SoakClients = Count(1, MaxClients); break;
                case "--soak-minutes": settings.SoakDuration = Duration(0.1, 30, TimeSpan.FromMinutes); break;
                case "--idle-minutes": settings.IdleAfter = Duration(0, 30, TimeSpan.FromMinutes); break;
                case "--soak-waves": settings.SoakWaves = Count(1, 3); break;
                case "--scene-connections": settings.SceneConnections = Count(1, MaxClients); break;
                case "--scene-seconds": settings.SceneWindow = Duration(1, 300, TimeSpan.FromSeconds); break;
                case "--scene-settle-seconds": settings.SceneSettle = Duration(0, 600, TimeSpan.FromSeconds); break;
                case "--run-timeout-seconds": settings.RunTimeout = Duration(5, 1800, TimeSpan.FromSeconds); break;
                case "--max-minutes": settings.MaxTotal = Duration(1, 120, TimeSpan.FromMinutes); break;
                case "--results": settings.ResultsFile = Value(); break;
                case "--server-log": settings.ServerLog = Value(); break;
                case "--label": settings.Label = Value(); break;
                case "--note": settings.Note = Value(); break;
                default: throw new ArgumentException($"unknown argument '{arg}'");
            }
        }
        if (!settings.Help && settings.ScenarioNames.Count == 0) throw new ArgumentException("name at least one scenario (students, greedy, soak, scene or all)");
        if (settings.ServerDll is not null && settings.Pid is not null) throw new ArgumentException("--server and --pid exclude each other");
        return settings;
    }

    /// <summary>The address, when it is on this machine's loopback; anything else is refused, whatever it is.</summary>
    static Uri Loopback(string text)
    {
        if (!Uri.TryCreate(text.EndsWith('/') ? text : text + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.PathAndQuery != "/")
            throw new ArgumentException($"--url must be like http://127.0.0.1:5610/ (got '{text}')");
        bool loopback = uri.IsLoopback && (uri.HostNameType != UriHostNameType.Dns || uri.Host == "localhost")
                        || IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
        if (!loopback) throw new ArgumentException($"--url must be a loopback address (127.0.0.1, [::1] or localhost): this tool loads only a server on this machine (got '{uri.Host}')");
        return uri;
    }

    static string Quote(string arg) => arg.Length > 0 && arg.All(c => char.IsAsciiLetterOrDigit(c) || "-_./:=@,+".Contains(c)) ? arg : "'" + arg.Replace("'", "'\\''") + "'";

    static string GitLabel()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "log -1 --format=%h") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            string commit = git?.StandardOutput.ReadToEnd().Trim() ?? "";
            git?.WaitForExit(5000);
            return commit.Length > 0 ? $"commit {commit}" : "load run";
        }
        catch (System.ComponentModel.Win32Exception) { return "load run"; }
    }
}
