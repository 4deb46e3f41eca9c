using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;
using System.Net;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>The saved-runs page shows what it says it keeps: every run, a page at a time, with honest counts.</summary>
public sealed class SavedRunsPageTests
{
    static SavedRun Saved(int i) => new(
        $"page-run-{i:000}", "prior=gmm-image&image=sample%3A0&op=box-inpainting&solver=dps&steps=1&seed=1", "dps", "Finished", null,
        DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000 + i * 1000L), new SavedTimings(1, 2, 30, 1),
        [new StepRecord { Step = 0, Psnr = 20 }], [], null, null, Owner: (i % 5).ToString("x32")); // five browsers, thirty runs each: within their share

    static int Rows(string html) => Regex.Matches(html, "data-run-id=\"page-run-").Count;

    [Fact]
    public async Task More_runs_than_a_page_holds_are_all_reachable_page_by_page_and_the_counts_say_so()
    {
        using var server = new LabServer();
        for (var i = 0; i < 150; i++) Assert.True(server.Store.Save(Saved(i)));
        using var http = new HttpClient { BaseAddress = server.BaseAddress };

        var first = WebUtility.HtmlDecode(await http.GetStringAsync("/runs"));
        Assert.Contains($"up to {server.Store.RunsPerBrowser} from each browser", first);
        Assert.Contains($"{server.Store.MaxRuns} in all", first);
        Assert.Contains("Showing runs 1–100 of the 150 saved runs", first);
        Assert.Equal(100, Rows(first));
        Assert.Contains("data-run-id=\"page-run-149\"", first); // newest first
        Assert.Contains("href=\"/runs?page=2\"", first);

        var second = WebUtility.HtmlDecode(await http.GetStringAsync("/runs?page=2"));
        Assert.Contains("Showing runs 101–150 of the 150 saved runs", second);
        Assert.Equal(50, Rows(second));
        Assert.Contains("data-run-id=\"page-run-000\"", second); // the oldest is there too
        Assert.Contains("href=\"/runs\"", second);

        foreach (var odd in new[] { "/runs?page=0", "/runs?page=-5", "/runs?page=99999", "/runs?page=abc", "/runs?page=99999999999999" })
        {
            using var answer = await http.GetAsync(odd);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.InRange(Rows(await answer.Content.ReadAsStringAsync()), 50, 100);
        }
    }
}
