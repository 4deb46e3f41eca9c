using DiffusionLab.Engine.Solvers;
using Microsoft.Playwright;
using System.Diagnostics;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Debian's Chromium driven by Playwright against the lab on Kestrel. A fresh machine has no
/// Chromium: when running as root the fixture installs it with apt-get (as .ci/run does);
/// otherwise it stops with a message that says what to install.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    internal static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
    ];

    IPlaywright? playwright;

    public LabServer Server { get; private set; } = default!;
    public IBrowser Browser { get; private set; } = default!;

    /// <summary>Where the tests save screenshots and measured figures: artifacts/screenshots at the repository root.</summary>
    public static string ScreenshotFolder { get; } = Path.Combine(RepositoryRoot(), "artifacts", "screenshots");

    public async Task InitializeAsync()
    {
        EnsureChromium();
        Directory.CreateDirectory(ScreenshotFolder);
        Server = new LabServer();
        playwright = await Playwright.CreateAsync();
        Browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ChromiumArgs,
        });
    }

    public async Task<IPage> NewPageAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = 1600, Height = 1000 },
            BaseURL = Server.BaseAddress.ToString(),
        });
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.DisposeAsync();
        playwright?.Dispose();
        Server?.Dispose();
    }

    /// <summary>Several browser fixtures start in parallel; only one of them may run apt-get (dpkg takes a lock).</summary>
    static readonly Lazy<bool> ChromiumInstalled = new(InstallChromium, LazyThreadSafetyMode.ExecutionAndPublication);

    static void EnsureChromium() => _ = ChromiumInstalled.Value;

    static bool InstallChromium()
    {
        if (File.Exists(ChromiumPath)) return true;
        if (Environment.UserName != "root" && !IsRoot())
            throw new InvalidOperationException(
                $"The browser tests need Debian's Chromium at {ChromiumPath}. Install it with: sudo apt-get install -y chromium");
        Run("apt-get", "update -qq");
        Run("apt-get", "install -y -qq --no-install-recommends chromium");
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"apt-get installed chromium but {ChromiumPath} is still missing.");
        return true;
    }

    static bool IsRoot()
    {
        try
        {
            return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");
        }
        catch (IOException)
        {
            return false;
        }
    }

    static void Run(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"'{file} {arguments}' failed ({process.ExitCode}) while installing Chromium for the browser tests: {error.Result}");
    }

    internal static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "DiffusionLab.sln"))) return folder.FullName;
        return AppContext.BaseDirectory;
    }
}
