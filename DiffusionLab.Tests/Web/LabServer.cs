using DiffusionLab.Web;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lab web app on Kestrel at a free localhost port (not the in-memory test server), so the
/// SignalR client and a real browser talk to it over real sockets. Saved runs stay in memory unless
/// a database file is given (the classroom tests restart a server on the same file).
/// </summary>
public sealed class LabServer : WebApplicationFactory<Program>
{
    /// <summary>A short, fast run: the exact mixture prior, box inpainting, DPS, few steps.</summary>
    public const string QuickSpec = "prior=gmm-image&image=sample%3A0&op=box-inpainting&noise=gaussian&sigmaY=0.05&solver=dps&steps=20&seed=3";

    readonly string databaseFile;
    readonly int maxConcurrentRuns;
    readonly IReadOnlyDictionary<string, string> settings;
    readonly Action<IServiceCollection>? services;

    public LabServer() : this("", 2) { }

    /// <param name="maxConcurrentRuns">Runs computed at once, batched or not (the queue tests count on it).</param>
    /// <param name="settings">Configuration entries to set over the app's own ("Limits:DownloadsPerMinute" = "3", "Lab:MaxRunsPerBrowser" = "2").</param>
    /// <param name="services">Replaces app services after the app's own (a catalog of priors from a folder of the test's).</param>
    public LabServer(string databaseFile, int maxConcurrentRuns = 4, IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null)
    {
        this.services = services;
        this.databaseFile = databaseFile;
        this.maxConcurrentRuns = maxConcurrentRuns;
        this.settings = settings ?? new Dictionary<string, string>();
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseAddress = new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal)).Replace("[::1]", "localhost").Replace("127.0.0.1", "localhost"));
    }

    public Uri BaseAddress { get; }

    public ILiveRuns Runs => Services.GetRequiredService<ILiveRuns>();
    public IRunStore Store => Services.GetRequiredService<IRunStore>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        var cap = maxConcurrentRuns.ToString(System.Globalization.CultureInfo.InvariantCulture);
        builder.UseSetting("Lab:MaxConcurrentRuns", cap);
        builder.UseSetting("Lab:MaxBatchedRuns", cap);
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
        builder.UseSetting("RunStore:Path", databaseFile); // "" keeps saved runs in memory: tests leave no files behind
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
        if (services is not null) builder.ConfigureTestServices(services);
    }

    /// <summary>A new browser id, as the lab's pages give one in their cookie.</summary>
    public static string NewBrowser() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));

    /// <summary>
    /// A hub connection from a browser: with the cookie <paramref name="browser"/> (a new browser of its
    /// own when not given), as a page's connections send it; pass "" for a connection with no cookie.
    /// </summary>
    public HubConnection HubConnection(string path = "hubs/runs", string? browser = null)
    {
        var id = browser ?? NewBrowser();
        return new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, path), options =>
            {
                if (id.Length > 0) options.Cookies.Add(new System.Net.Cookie(BrowserIdentity.CookieName, id, "/", BaseAddress.Host));
            })
            .AddMessagePackProtocol()
            .Build();
    }
}
