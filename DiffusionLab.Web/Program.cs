using DiffusionLab.Web;
using DiffusionLab.Web.Runs;
using Microsoft.Extensions.FileProviders;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    WebRootPath = WebRootLocator.Find(),
});
// Package assets (MudBlazor's css/js, blazor.web.js) come from static web assets; outside
// Development they are only found when asked for explicitly (a no-op after publish).
builder.WebHost.UseStaticWebAssets();

// Where the networks compute, settled before anything loads one: a device that is not here stops the lab
// with one line naming Engine:Device (or DIFFUSIONLAB_DEVICE), never a quiet run on the CPU.
try
{
    DiffusionLab.Engine.ComputeDevice.Use(builder.Configuration["Engine:Device"], "Engine:Device");
}
catch (DiffusionLab.Engine.DeviceUnavailableException e)
{
    Console.Error.WriteLine(e.Message);
    return 1;
}
builder.Services.AddLab(builder.Configuration);

var app = builder.Build();

// The run store is opened and checked now, before the lab listens: one that cannot be used stops
// the lab with one line naming the file and the RunStore:Path setting.
try
{
    app.Services.GetRequiredService<IRunStore>();
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
app.UseRateLimiter();
app.UseAntiforgery();
app.MapStaticAssets();
app.MapLab();

app.Run();
return 0;

/// <summary>Visible to the integration tests' WebApplicationFactory.</summary>
public partial class Program;
