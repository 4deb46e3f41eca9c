using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace DiffusionLab.Load;

// The wire shapes this tool reads, by the names the server's MessagePack messages use. Only the
// fields the measurements need: MessagePack skips the others.

public sealed class StartRunReply
{
    public string? RunId { get; set; }
    public int QueuePosition { get; set; }
    public Dictionary<string, string> Problems { get; set; } = new();
}

public sealed class RunFrame
{
    public int Step { get; set; }
    public int Total { get; set; }
    public bool IsFinal { get; set; }
}

public sealed class ToyScene
{
    public int Resolution { get; set; }
    public string[] Problems { get; set; } = [];
}

/// <summary>The lab server under load: one this tool started (and stops), or one it was pointed at.</summary>
public sealed class LabServer : IDisposable
{
    readonly Process? process;
    readonly StreamWriter? log;

    LabServer(Uri baseAddress, int? pid, Process? process, StreamWriter? log, string description)
    {
        BaseAddress = baseAddress;
        Pid = pid;
        this.process = process;
        this.log = log;
        Description = description;
    }

    public Uri BaseAddress { get; }
    /// <summary>The server's process id, for its resident memory; null when it is not known (then memory is not measured).</summary>
    public int? Pid { get; }
    public string Description { get; }

    public static LabServer Attach(Uri baseAddress, int? pid) =>
        new(baseAddress, pid, null, null, pid is null ? $"running at {baseAddress} (memory not measured: no --pid)" : $"running at {baseAddress}, pid {pid}");

    /// <summary>
    /// Starts <paramref name="dll"/> under dotnet on the port of <paramref name="baseAddress"/> (loopback
    /// only), Production environment, saved runs in memory, and waits until it answers.
    /// </summary>
    public static async Task<LabServer> StartAsync(string dll, Uri baseAddress, IReadOnlyList<string> settings, string logFile, CancellationToken cancellation)
    {
        dll = Path.GetFullPath(dll);
        if (!File.Exists(dll)) throw new FileNotFoundException($"no server at {dll}: build it first (see tools/load/README.md)");
        if (PortIsTaken(baseAddress.Port)) throw new InvalidOperationException($"port {baseAddress.Port} is already in use on 127.0.0.1; pick another with --url");
        var info = new ProcessStartInfo("dotnet")
        {
            // Its own folder, as the tests start it: appsettings.json is there, and the lab finds
            // models/ and wwwroot-assets/ in the folders above.
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { dll, "--urls", $"http://127.0.0.1:{baseAddress.Port}", "--environment", "Production", "--RunStore:Path=" }.Concat(settings.Select(s => "--" + s)))
            info.ArgumentList.Add(argument);
        var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        log.WriteLine($"# {DateTime.UtcNow:O} dotnet {string.Join(' ', info.ArgumentList)}");
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        process.OutputDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new LabServer(baseAddress, process.Id, process, log,
            $"started by this tool: {Path.GetRelativePath(Environment.CurrentDirectory, dll)}, Production, saved runs in memory{(settings.Count > 0 ? ", " + string.Join(", ", settings) : "")}");

        using var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            if (process.HasExited) { server.Dispose(); throw new InvalidOperationException($"the server exited with {process.ExitCode}; its output is in {logFile}"); }
            try
            {
                using var response = await http.GetAsync("runs", cancellation);
                if (response.StatusCode == HttpStatusCode.OK) return server;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!cancellation.IsCancellationRequested) { }
            if (DateTime.UtcNow > deadline) { server.Dispose(); throw new TimeoutException($"the server did not answer within 120 s; its output is in {logFile}"); }
            await Task.Delay(250, cancellation);
        }
    }

    /// <summary>Resident memory in MB (VmRSS), or null when the process is unknown or gone.</summary>
    public double? ResidentMegabytes()
    {
        if (Pid is null) return null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024.0;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    public void Dispose()
    {
        if (process is not null)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException) { }
            process.Dispose();
        }
        lock (log ?? new object()) log?.Dispose();
    }

    static bool PortIsTaken(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return false;
        }
        catch (SocketException) { return true; }
    }

}

/// <summary>
/// One simulated browser: its own cookie jar (the lab gives each browser an id in a cookie on its
/// first page), and hub connections that send that cookie, as a tab's would.
/// </summary>
public sealed class Browser : IDisposable
{
    public const string CookieName = "diffusionlab-browser";

    readonly CookieContainer cookies = new();
    readonly HttpClient http;
    readonly Uri baseAddress;

    Browser(Uri baseAddress)
    {
        this.baseAddress = baseAddress;
        http = new HttpClient(new HttpClientHandler { CookieContainer = cookies, UseCookies = true }) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>True when the server gave this browser its id cookie.</summary>
    public bool HasCookie => cookies.GetCookies(baseAddress)[CookieName] is not null;

    /// <summary>A browser that has loaded the lab's front page once (which hands out the cookie).</summary>
    public static async Task<Browser> OpenAsync(Uri baseAddress, CancellationToken cancellation)
    {
        var browser = new Browser(baseAddress);
        using var response = await browser.http.GetAsync("", cancellation);
        response.EnsureSuccessStatusCode();
        return browser;
    }

    /// <summary>Opens <paramref name="count"/> browsers a few at a time (page loads are not what is measured).</summary>
    public static async Task<List<Browser>> OpenManyAsync(Uri baseAddress, int count, CancellationToken cancellation)
    {
        var browsers = new Browser[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellation },
            async (i, token) => browsers[i] = await OpenAsync(baseAddress, token));
        return [.. browsers];
    }

    public async Task<HubConnection> ConnectAsync(string path, CancellationToken cancellation)
    {
        var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(baseAddress, path), options => options.Cookies = cookies)
            .AddMessagePackProtocol()
            .Build();
        // A loaded server answers pings late; the default 30 s would count that as a dropped connection.
        hub.ServerTimeout = TimeSpan.FromMinutes(3);
        hub.HandshakeTimeout = TimeSpan.FromSeconds(60);
        await hub.StartAsync(cancellation);
        return hub;
    }

    public void Dispose() => http.Dispose();
}

/// <summary>What happened to one run a client asked for, timed from the moment it asked.</summary>
public sealed record RunOutcome(string? Refusal, TimeSpan? FirstFrame, TimeSpan? FinalFrame, int LastStep, string? StreamError = null)
{
    public bool Refused => Refusal is not null;
}

public static class LabRuns
{
    /// <summary>
    /// Starts a run and reads its frames until the final one or <paramref name="timeout"/>;
    /// <paramref name="onFrame"/> sees each frame as it comes.
    /// </summary>
    public static async Task<RunOutcome> RunAsync(HubConnection hub, string spec, TimeSpan timeout, CancellationToken cancellation, Action<RunFrame>? onFrame = null)
    {
        var clock = Stopwatch.StartNew();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        limit.CancelAfter(timeout);
        StartRunReply reply;
        try
        {
            reply = await hub.InvokeAsync<StartRunReply>("StartRun", spec, limit.Token);
        }
        catch (HubException e) { return new(e.Message, null, null, -1); }
        catch (OperationCanceledException) { return new("no answer to StartRun in time", null, null, -1); }
        if (reply.RunId is null) return new(string.Join(" ", reply.Problems.Values), null, null, -1);

        TimeSpan? first = null, final = null;
        int last = -1;
        string? streamError = null;
        try
        {
            await foreach (var frame in hub.StreamAsync<RunFrame>("Frames", reply.RunId, limit.Token))
            {
                first ??= clock.Elapsed;
                last = frame.Step;
                if (frame.IsFinal) final = clock.Elapsed;
                onFrame?.Invoke(frame);
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e) when (e is HubException or InvalidOperationException or System.IO.InvalidDataException) { streamError = e.Message; }
        if (final is null && streamError is null && !limit.IsCancellationRequested)
            streamError = "the stream ended before the final step (the run failed or was stopped on the server)";
        try
        {
            // A run that did not end in time is stopped, so that it does not load the next measurement.
            if (final is null && hub.State == HubConnectionState.Connected)
                await hub.InvokeAsync("StopRun", reply.RunId, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is HubException or TimeoutException or InvalidOperationException) { }
        return new(null, first, final, last, streamError);
    }
}
