using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Services;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace DiffusionLab.Tests.Web;

/// <summary>The lab on Kestrel with its saved runs in a given SQLite file and room for several runs at once.</summary>
public sealed class ClassroomServer : WebApplicationFactory<Program>
{
    readonly string databaseFile;

    public ClassroomServer(string databaseFile)
    {
        this.databaseFile = databaseFile;
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        BaseAddress = new Uri(addresses.First(a => a.StartsWith("http://", StringComparison.Ordinal)).Replace("[::1]", "localhost").Replace("127.0.0.1", "localhost"));
    }

    public Uri BaseAddress { get; }
    public RunService Runs => Services.GetRequiredService<RunService>();
    public RunStore Store => Services.GetRequiredService<RunStore>();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Lab:MaxConcurrentRuns", "4");
        builder.UseSetting("RunStore:Path", databaseFile);
    }

    public HubConnection Hub(string path = "hubs/runs") =>
        new HubConnectionBuilder().WithUrl(new Uri(BaseAddress, path)).AddMessagePackProtocol().Build();
}
