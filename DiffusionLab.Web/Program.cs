using DiffusionLab.Engine.Priors;
using DiffusionLab.Web;
using DiffusionLab.Web.Components;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.Extensions.FileProviders;
using MudBlazor.Services;
using DiffusionLab.Engine;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Features.Toy;
using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Uploads;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    WebRootPath = WebRootLocator.Find(),
});
// Package assets (MudBlazor's css/js, blazor.web.js) come from static web assets; outside
// Development they are only found when asked for explicitly (a no-op after publish).
builder.WebHost.UseStaticWebAssets();

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.AddMudServices();
builder.Services.AddHubRefusalLogging();
builder.Services.AddSignalR(options =>
{
    options.MaximumReceiveMessageSize = 64 * 1024;
    options.EnableDetailedErrors = builder.Environment.IsDevelopment();
}).AddMessagePackProtocol();
builder.Services.Configure<LabOptions>(builder.Configuration.GetSection("Lab"));
builder.Services.AddSingleton(_ => PriorCatalog.ForContentRoot(ContentRoot.Find()));
builder.Services.AddSingleton(services => new LabCatalog(services.GetRequiredService<PriorCatalog>()));
builder.Services.AddSingleton(services => new Runner(services.GetRequiredService<PriorCatalog>(), services.GetRequiredService<UploadedImages>()));
builder.Services.AddSingleton<UploadedImages>();
builder.Services.AddSingleton<MeasurementPreview>();
builder.Services.AddClassroom(builder.Configuration);
builder.Services.AddSingleton<BrowserShares>();
builder.Services.AddScoped<CircuitWork>();
builder.Services.AddScoped<Microsoft.AspNetCore.Components.Server.Circuits.CircuitHandler, CircuitWorkHandler>();
builder.Services.AddSingleton<RunService>();
builder.Services.AddHostedService(services => services.GetRequiredService<RunService>());
builder.Services.AddSingleton<ToyRuns>();

var app = builder.Build();

// The run store is opened and checked now, before the lab listens: one that cannot be used stops
// the lab with one line naming the file and the RunStore:Path setting.
try
{
    app.Services.GetRequiredService<RunStore>();
}
catch (RunStoreUnusableException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}

// A published app keeps the package assets (MudBlazor, blazor.web.js) in its own wwwroot/, apart
// from the lab's web root: serve both.
var publishedAssets = Path.Combine(AppContext.BaseDirectory, "wwwroot");
if (Directory.Exists(publishedAssets) && !string.Equals(Path.GetFullPath(publishedAssets), app.Environment.WebRootPath, StringComparison.Ordinal))
    app.Environment.WebRootFileProvider = new CompositeFileProvider(app.Environment.WebRootFileProvider, new PhysicalFileProvider(publishedAssets));

if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler("/error", createScopeForErrors: true);
// An address with nothing at it gets the Not-found page (still a 404); answers that have a body of
// their own (a missing run's download says so) keep it.
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);

// The lab's own files (the web root, outside the project) are served before routing picks an
// endpoint. MapStaticAssets knows only the files in the build's manifest (the packages' assets);
// with routing first, its Development fallback would take the lab's files too, warning for each.
app.UseStaticFiles();
app.UseRouting();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode().Add(AnswerHead);
app.MapHub<RunHub>("/hubs/runs");
app.MapHub<ToyHub>("/hubs/toy");
app.MapClassroom();
RunDownloads.Map(app);

app.Run();
return 0;

// Pages answer HEAD as they answer GET (Kestrel sends the headers without the body): link
// checkers and uptime probes ask with HEAD, and page endpoints accept only GET and POST.
static void AnswerHead(EndpointBuilder endpoint)
{
    if (!endpoint.Metadata.OfType<ComponentTypeMetadata>().Any()) return;
    var methods = endpoint.Metadata.OfType<HttpMethodMetadata>().LastOrDefault();
    if (methods is null || !methods.HttpMethods.Contains(HttpMethods.Get) || methods.HttpMethods.Contains(HttpMethods.Head)) return;
    endpoint.Metadata.Remove(methods);
    endpoint.Metadata.Add(new HttpMethodMetadata([.. methods.HttpMethods, HttpMethods.Head], methods.AcceptCorsPreflight));
}

/// <summary>Visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
