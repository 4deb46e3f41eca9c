using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lab as its own operating-system process (the built DiffusionLab.Web.dll under `dotnet`), so a
/// test can kill it outright — SIGKILL, no shutdown, no flush — and start another on the same files.
/// </summary>
public sealed class LabProcess : IDisposable
{
    readonly Process process;
    readonly System.Text.StringBuilder output = new();

    LabProcess(Process process, Uri baseAddress)
    {
        this.process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>What the server printed so far (for failure messages).</summary>
    public string Output { get { lock (output) return output.ToString(); } }

    /// <param name="settings">More command-line settings ("--RunStore:BusyTimeoutSeconds=1").</param>
    public static async Task<LabProcess> StartAsync(string databaseFile, params string[] settings)
    {
        int port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        string[] arguments =
        [
            Path.Combine(AppContext.BaseDirectory, "DiffusionLab.Web.dll"),
            "--urls", $"http://127.0.0.1:{port}",
            "--environment", "Development",
            $"--RunStore:Path={databaseFile}",
            .. settings,
        ];
        foreach (var argument in arguments)
            info.ArgumentList.Add(argument);
        var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var lab = new LabProcess(process, new Uri($"http://localhost:{port}/"));
        process.OutputDataReceived += (_, e) => { lock (lab.output) lab.output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (lab.output) lab.output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var http = new HttpClient { BaseAddress = lab.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"the lab process exited with {process.ExitCode}:\n{lab.Output}");
            try
            {
                using var response = await http.GetAsync("/runs");
                if (response.StatusCode == HttpStatusCode.OK) return lab;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) { lab.Dispose(); throw new TimeoutException($"the lab process did not answer within 60 s:\n{lab.Output}"); }
            await Task.Delay(200);
        }
    }

    /// <summary>A hub connection from a browser of its own (with its cookie, as a page's connections send it).</summary>
    public HubConnection HubConnection(string path = "hubs/runs") =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, path), options =>
                options.Cookies.Add(new Cookie(DiffusionLab.Web.BrowserIdentity.CookieName, LabServer.NewBrowser(), "/", BaseAddress.Host)))
            .AddMessagePackProtocol().Build();

    /// <summary>SIGKILL: the process gets no chance to shut down, flush or checkpoint anything.</summary>
    public void Kill()
    {
        if (process.HasExited) return;
        process.Kill(entireProcessTree: true);
        process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        Kill();
        process.Dispose();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
