using DiffusionLab.Web.Runs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// What a newcomer meets around the pages: the Not-found and error pages, HEAD, a page load without
/// warnings, and a log where a refused hub call is one line of information, not an error.
/// </summary>
public sealed class LabPagesTests
{
    [Fact]
    public async Task AnUnknownAddressAnswers404WithTheNotFoundPageInTheLabsLayout()
    {
        using var app = new LabApp("Development");
        using var http = app.CreateClient();

        using var page = await http.GetAsync("/no/such/page?x=1");
        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("There is nothing at this address", html);
        Assert.Matches("<a href=\"/\" data-testid=\"home-link\">", html);
        Assert.Contains("lab-appbar", html); // the app's header, so every page is a click away

        // A missing file is the same page; a download of a missing run keeps its own words.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/css/no-such.css")).StatusCode);
        using var download = await http.GetAsync("/runs/no-such-run/result.png");
        Assert.Equal(HttpStatusCode.NotFound, download.StatusCode);
        Assert.DoesNotContain("There is nothing at this address", await download.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/", HttpStatusCode.OK)]
    [InlineData("/runs", HttpStatusCode.OK)]
    [InlineData("/no-such-page", HttpStatusCode.NotFound)]
    public async Task HeadAnswersAsGetDoes(string path, HttpStatusCode expected)
    {
        using var app = new LabApp("Development");
        using var http = app.CreateClient();
        using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
        Assert.Equal(expected, head.StatusCode);
        Assert.Equal("text/html", head.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task InProductionAServerErrorShowsTheErrorPage()
    {
        var folder = Directory.CreateTempSubdirectory("lab-error-").FullName;
        try
        {
            var file = Path.Combine(folder, "runs.db");
            using var app = new LabApp("Production", file);
            using var http = app.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/runs")).StatusCode);

            // The store loses a table under the running lab (a damaged or replaced file): listing the runs throws.
            using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
            {
                connection.Open();
                using var drop = connection.CreateCommand();
                drop.CommandText = "DROP TABLE runs;";
                drop.ExecuteNonQuery();
            }
            using var failed = await http.GetAsync("/runs");
            Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
            var html = await failed.Content.ReadAsStringAsync();
            Assert.Contains("Something went wrong on the server", html);
            Assert.Contains("<a href=\"/\" data-testid=\"home-link\">", html);
            Assert.DoesNotContain("no such table", html); // no details for the visitor
            Assert.DoesNotContain("\"type\":\"server\"", html); // rendered once: no live connection that would fail the same way
            Assert.Contains(app.Log.Entries, e => e.Level == LogLevel.Error && e.Exception is SqliteException); // the details are in the log

            using var direct = await http.GetAsync("/error");
            Assert.Contains("Something went wrong on the server", await direct.Content.ReadAsStringAsync());
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task EveryPageSaysWhichDeviceTheNetworksComputeOn()
    {
        using var app = new LabApp("Development");
        using var http = app.CreateClient();
        foreach (var page in new[] { "/", "/runs" })
        {
            var html = await http.GetStringAsync(page);
            Assert.Contains($"<footer class=\"lab-device\"", html);
            Assert.Contains($"networks compute on {System.Net.WebUtility.HtmlEncode(DiffusionLab.Engine.ComputeDevice.Description)}</footer>", html);
        }
    }

    [Fact]
    public async Task LoadingAPageAndItsFilesInDevelopmentLogsNoStaticAssetWarnings()
    {
        using var app = new LabApp("Development");
        using var http = app.CreateClient();
        var html = await http.GetStringAsync("/");
        var files = Regex.Matches(html, "(?:href|src)=\"([A-Za-z_][^\":]*\\.(?:css|js|svg))\"").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.Contains("css/lab.css", files);
        Assert.Contains(files, f => f.StartsWith("DiffusionLab.Web", StringComparison.Ordinal) && f.EndsWith(".styles.css", StringComparison.Ordinal));
        // The components' own modules are imported by script, not named in the page: fetch them too.
        files.AddRange(["Features/Lab/Lab.razor.js", "Features/Shared/FramePlayer.razor.js", "js/hub-connection.js"]);
        Assert.Contains(files, f => f.StartsWith("_framework/blazor.web", StringComparison.Ordinal));
        foreach (var file in files)
            Assert.Equal((file, HttpStatusCode.OK), (file, (await http.GetAsync(file)).StatusCode));

        Assert.DoesNotContain(app.Log.Entries, e => e.Level >= LogLevel.Warning && e.Category.Contains("StaticAsset", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RefusedHubCallsAreLoggedAsInformationWithoutAStack()
    {
        using var app = new LabApp("Development");
        await using var watch = app.Hub("hubs/watch");
        await using var runs = app.Hub("hubs/runs");
        await watch.StartAsync();
        await runs.StartAsync();

        var unknownRun = await Assert.ThrowsAsync<HubException>(() => watch.InvokeAsync<WatchSnapshot>("Watch", "no-such-run"));
        Assert.Contains("There is no live run with this id", unknownRun.Message);
        await Assert.ThrowsAsync<HubException>(() => runs.InvokeAsync("ClaimRun", "no-such-run", "wrong-key"));
        await Assert.ThrowsAsync<HubException>(() => runs.InvokeAsync<List<RunFrame>>("Keyframes", (string?)null)); // a null id is an unknown one, not a crash

        var refusals = app.Log.Entries.Where(e => e.Category == HubRefusals.Category).ToList();
        Assert.Equal(3, refusals.Count);
        Assert.All(refusals, e => Assert.Equal((LogLevel.Information, null), (e.Level, e.Exception)));
        Assert.Contains(refusals, e => e.Message == "Refused Watch: There is no live run with this id. It may have ended a while ago: look for it under Saved runs.");
        Assert.Contains(refusals, e => e.Message == "Refused ClaimRun: This run cannot be claimed with that key.");
        Assert.Contains(refusals, e => e.Message == "Refused Keyframes: There is no run with this id.");
        Assert.DoesNotContain(app.Log.Entries, e => e.Level >= LogLevel.Error);

        // An unexpected exception in a hub method stays an error, with its stack: SignalR's own logger, as the lab's factory makes it.
        const string Dispatcher = "Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher";
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(Dispatcher);
        logger.LogError(new InvalidOperationException("unexpected"), "Failed to invoke hub method '{HubMethod}'.", "Watch");
        var error = Assert.Single(app.Log.Entries, e => e.Level >= LogLevel.Error);
        Assert.Equal((Dispatcher, LogLevel.Error, "Failed to invoke hub method 'Watch'."), (error.Category, error.Level, error.Message));
        Assert.IsType<InvalidOperationException>(error.Exception);
    }
}

/// <summary>The lab in memory (the test server), in a given environment, with what it logs kept in <see cref="Log"/>.</summary>
sealed class LabApp(string environment, string storePath = "") : WebApplicationFactory<Program>
{
    public LogCapture Log { get; } = new();

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(environment);
        builder.UseSetting("RunStore:Path", storePath); // "" keeps saved runs in memory
        builder.ConfigureLogging(logging => logging.AddProvider(Log));
    }

    /// <summary>A hub connection over the test server (long polling, MessagePack as the lab's pages use).</summary>
    public HubConnection Hub(string path) =>
        new HubConnectionBuilder()
            .WithUrl(new Uri(Server.BaseAddress, path), options =>
            {
                options.HttpMessageHandlerFactory = _ => Server.CreateHandler();
                options.Transports = HttpTransportType.LongPolling;
            })
            .AddMessagePackProtocol()
            .Build();
}

sealed class LogCapture : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, string Message, Exception? Exception);

    readonly ConcurrentQueue<Entry> entries = new();

    public IReadOnlyList<Entry> Entries => [.. entries];

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, entries);

    public void Dispose() { }

    sealed class Logger(string category, ConcurrentQueue<Entry> entries) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), exception));
    }
}
