using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using DiffusionLab.Web.Features.Lab;

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

    public LabServer() : this("", 2) { }

    /// <param name="settings">Configuration entries to set ("Limits:DownloadsPerMinute" = "3").</param>
    public LabServer(string databaseFile, int maxConcurrentRuns = 4, IReadOnlyDictionary<string, string>? settings = null)
    {
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
        builder.UseSetting("Lab:MaxConcurrentRuns", maxConcurrentRuns.ToString(System.Globalization.CultureInfo.InvariantCulture));
        builder.UseSetting("RunStore:Path", databaseFile); // "" keeps saved runs in memory: tests leave no files behind
        foreach (var (key, value) in settings) builder.UseSetting(key, value);
    }

    public HubConnection HubConnection(string path = "hubs/runs") =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, path))
            .AddMessagePackProtocol()
            .Build();
}
