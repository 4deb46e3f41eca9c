using DiffusionLab.Web.Runs;
using Microsoft.Data.Sqlite;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lab started as its own process, as a newcomer starts it: an unusable run store stops it with
/// one line, and the address given in ASPNETCORE_URLS is the one it listens on.
/// </summary>
public sealed class LabStartupTests(Xunit.Abstractions.ITestOutputHelper output) : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("lab-startup-").FullName;

    public static TheoryData<string> UnusableStoreCases => ["folder at the path", "not a database", "damaged pages", "read-only folder", "store in a read-only folder"];

    [Theory]
    [MemberData(nameof(UnusableStoreCases))]
    public async Task AnUnusableRunStoreStopsTheLabWithOneLineNamingTheFileAndTheSetting(string unusable)
    {
        var file = unusable switch
        {
            "folder at the path" => UnusableStores.FolderAtPath(folder),
            "not a database" => UnusableStores.Garbage(folder),
            "damaged pages" => UnusableStores.DamagedPages(folder),
            "read-only folder" => UnusableStores.ReadOnlyFolder(folder),
            _ => UnusableStores.ReadOnlyFolder(folder, withStore: true),
        };
        SqliteConnection.ClearAllPools();
        var port = FreePort();
        var lab = StartDotnet([Path.Combine(AppContext.BaseDirectory, "DiffusionLab.Web.dll"), "--urls", $"http://127.0.0.1:{port}", $"--RunStore:Path={file}"],
            environment: [("ASPNETCORE_ENVIRONMENT", "Development")], withoutFileOverrides: unusable.Contains("read-only"));
        var (exitCode, lines) = await ExitOf(lab);
        output.WriteLine(string.Join('\n', lines));

        Assert.NotEqual(0, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith($"Cannot use the run store {file}: ", line);
        Assert.Contains($"RunStore:Path (now \"{file}\")", line);
        Assert.Contains(unusable switch
        {
            "folder at the path" => "there is a folder at that path",
            "not a database" => "the file is not a SQLite database",
            "damaged pages" => "the file is damaged",
            _ => $"its folder {Path.GetDirectoryName(file)} is not writable",
        }, line);
        using var http = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{port}/")); // it never listened
    }

    [Theory]
    [InlineData("Engine:Device")]
    [InlineData("DIFFUSIONLAB_DEVICE")]
    public async Task ADeviceThatIsNotHereStopsTheLabWithOneLineNamingTheSetting(string setting)
    {
        if (TorchSharp.torch.cuda.is_available()) return; // the CUDA build on a GPU machine: cuda is there to be had
        var port = FreePort();
        string[] arguments = [Path.Combine(AppContext.BaseDirectory, "DiffusionLab.Web.dll"), "--urls", $"http://127.0.0.1:{port}", $"--RunStore:Path={Path.Combine(folder, "runs.db")}"];
        var lab = setting == "Engine:Device"
            ? StartDotnet([.. arguments, "--Engine:Device=cuda"], environment: [("ASPNETCORE_ENVIRONMENT", "Development")])
            : StartDotnet(arguments, environment: [("ASPNETCORE_ENVIRONMENT", "Development"), ("DIFFUSIONLAB_DEVICE", "cuda:1")]);
        var (exitCode, lines) = await ExitOf(lab);
        output.WriteLine(string.Join('\n', lines));

        Assert.NotEqual(0, exitCode);
        var line = Assert.Single(lines);
        Assert.StartsWith(setting == "Engine:Device" ? "Engine:Device is \"cuda\"" : "DIFFUSIONLAB_DEVICE is \"cuda:1\"", line);
        Assert.Contains("libtorch sees no CUDA device here", line);
        using var http = new HttpClient();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync($"http://127.0.0.1:{port}/")); // it never listened
    }

    [Fact]
    public async Task DotnetRunListensWhereAspNetCoreUrlsSays()
    {
        var repository = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(repository.FullName, "DiffusionLab.sln"))) repository = repository.Parent!;
        var configuration = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name; // bin/<configuration>/net10.0
        var port = FreePort();
        var address = $"http://127.0.0.1:{port}";
        using var lab = StartDotnet(["run", "--project", Path.Combine(repository.FullName, "DiffusionLab.Web"), "--no-build", "-c", configuration],
            environment: [("ASPNETCORE_URLS", address), ("RunStore__Path", "")]);
        var printed = new System.Text.StringBuilder();
        lab.OutputDataReceived += (_, e) => { lock (printed) printed.AppendLine(e.Data); };
        lab.ErrorDataReceived += (_, e) => { lock (printed) printed.AppendLine(e.Data); };
        lab.BeginOutputReadLine();
        lab.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            HttpStatusCode? status = null;
            for (var deadline = DateTime.UtcNow.AddSeconds(90); status is null && !lab.HasExited && DateTime.UtcNow < deadline; await Task.Delay(250))
            {
                try { status = (await http.GetAsync(address + "/")).StatusCode; }
                catch (HttpRequestException) { }
                catch (TaskCanceledException) { }
            }
            lock (printed) output.WriteLine(printed.ToString());
            Assert.Equal(HttpStatusCode.OK, status);
            lock (printed) Assert.Contains($"Now listening on: {address}", printed.ToString());
        }
        finally
        {
            lab.Kill(entireProcessTree: true);
            await lab.WaitForExitAsync();
        }
    }

    /// <summary>
    /// Starts <c>dotnet</c>. <paramref name="withoutFileOverrides"/> starts it without the power to
    /// ignore file permissions, which root has: a read-only folder is then read-only for it too.
    /// </summary>
    static Process StartDotnet(string[] arguments, (string Name, string Value)[] environment, bool withoutFileOverrides = false)
    {
        var info = new ProcessStartInfo(withoutFileOverrides && Environment.IsPrivilegedProcess ? "setpriv" : "dotnet")
        {
            WorkingDirectory = AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (info.FileName == "setpriv")
            foreach (var argument in new[] { "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "dotnet" }) info.ArgumentList.Add(argument);
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>Waits for the process to end (60 s at most) and gives its exit code and the lines it printed.</summary>
    static async Task<(int ExitCode, string[] Lines)> ExitOf(Process process)
    {
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"the lab was still running after 60 s:\n{await stdout}{await stderr}");
            }
            var lines = (await stdout + await stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return (process.ExitCode, lines);
        }
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        UnusableStores.Remove(folder);
    }
}
