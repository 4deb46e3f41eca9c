using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Cli;

/// <summary>
/// The console tool as a user runs it: the built DiffusionLab.Cli.dll under `dotnet`, started in a
/// fresh temporary folder (outside the repository), so what it finds it finds from there.
/// </summary>
public sealed class CliProcess : IDisposable
{
    /// <summary>The working folder of every run; deleted with this object.</summary>
    public string Folder { get; } = Directory.CreateTempSubdirectory("diffusionlab-cli-").FullName;

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => Stdout + Stderr;

        /// <summary>The output with line breaks and runs of spaces as single spaces: the console wraps long lines at its width.</summary>
        public string Flat => Regex.Replace(Output, @"\s+", " ");

        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    public Result Run(params string[] arguments)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = Folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "DiffusionLab.Cli.dll"));
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("dotnet did not start");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        // A guard against a hung process, not a measure of speed: every run here takes seconds.
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"DiffusionLab.Cli {string.Join(' ', arguments)} did not finish within 3 minutes:\n{stdout}\n{stderr}");
        }
        process.WaitForExit(); // lets the output handlers drain
        lock (stdout) lock (stderr) return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { }
    }
}
