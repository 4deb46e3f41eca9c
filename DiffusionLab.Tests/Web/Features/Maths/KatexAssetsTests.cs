using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// KaTeX is served by the app itself (no CDN): the copy under wwwroot-assets/lib/katex is the release
/// tools/katex pins, and every file the page asks for (the script, the stylesheet, each font the
/// stylesheet names first) answers.
/// </summary>
public sealed class KatexAssetsTests
{
    static readonly string Root = BrowserFixture.RepositoryRoot();

    [Fact]
    public void The_committed_copy_is_the_release_the_tools_pin()
    {
        using var package = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "tools", "katex", "package.json")));
        using var locked = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "tools", "katex", "package-lock.json")));
        var pinned = package.RootElement.GetProperty("dependencies").GetProperty("katex").GetString();
        Assert.Equal("0.19.1", pinned);
        Assert.Equal(pinned, locked.RootElement.GetProperty("packages").GetProperty("node_modules/katex").GetProperty("version").GetString());
        var copy = Path.Combine(Root, "wwwroot-assets", "lib", "katex");
        Assert.Equal(pinned, File.ReadAllText(Path.Combine(copy, "VERSION")).Trim());
        Assert.Contains("MIT License", File.ReadAllText(Path.Combine(copy, "LICENSE")));
        Assert.Contains($"version:\"{pinned}\"", File.ReadAllText(Path.Combine(copy, "katex.min.js"))); // the script names its own release
    }

    [Fact]
    public async Task The_app_serves_KaTeX_and_every_font_its_stylesheet_uses_first()
    {
        using var app = new LabApp("Development");
        using var http = app.CreateClient();

        var script = await http.GetAsync("/lib/katex/katex.min.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Contains("javascript", script.Content.Headers.ContentType?.MediaType);
        var module = await http.GetAsync("/Features/Maths/MathsScope.razor.js");
        Assert.Equal(HttpStatusCode.OK, module.StatusCode);
        Assert.Contains("lib/katex/katex.min.js", await module.Content.ReadAsStringAsync());

        var css = await http.GetStringAsync("/lib/katex/katex.min.css");
        var fonts = Regex.Matches(css, @"src:url\((fonts/[^)]+\.woff2)\)").Select(m => m.Groups[1].Value).Distinct().ToList();
        Assert.True(fonts.Count >= 15, $"the stylesheet names {fonts.Count} woff2 fonts");
        foreach (var font in fonts)
        {
            using var answer = await http.GetAsync("/lib/katex/" + font);
            Assert.Equal((font, HttpStatusCode.OK, "font/woff2"), (font, answer.StatusCode, answer.Content.Headers.ContentType?.MediaType));
        }
    }
}
