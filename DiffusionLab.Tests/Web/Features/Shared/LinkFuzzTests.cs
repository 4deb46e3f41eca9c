using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Tests.Runs;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Features.Shared;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Seeded random links (<see cref="RandomLinks"/>) fed to the lab's form, the classroom reader and
/// the running app: whatever a link holds, the page opens and its Run button can run.
/// </summary>
public sealed class LinkFuzzTests(LabServerFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : IClassFixture<LabServerFixture>
{
    static readonly LabCatalog Lab = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    static List<string> Links(int seed, int count)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => RandomLinks.Next(rng)).ToList();
    }

    [Fact]
    public void Every_random_link_opens_the_lab_form_with_no_errors_and_the_classroom_pages_with_a_runnable_spec()
    {
        foreach (var query in Links(5151, 3000))
        {
            var form = new LabForm(Lab);
            var notes = form.LoadLink(query);
            Assert.True(!form.HasErrors, $"{query}: {string.Join(" ", form.Errors.Values)}");
            Assert.NotNull(notes);

            // The address bar then holds the form's spec; reloading it changes nothing.
            var reloaded = new LabForm(Lab);
            Assert.Empty(reloaded.LoadLink(form.Spec.ToQueryString()));
            Assert.Equal(form.Spec.ToQueryString(), reloaded.Spec.ToQueryString());

            var classroom = ClassroomSpec.Read(query, Lab);
            Assert.True(classroom.Spec.Validate(Lab).Count == 0, $"{query}: {string.Join(" ", classroom.Spec.Validate(Lab).Select(p => p.Message))}");
        }
    }

    [Fact]
    public async Task A_few_hundred_random_links_open_the_lab_compare_and_diversity_pages_without_a_server_error()
    {
        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        var pages = new[] { "/", "/compare", "/diversity" };
        var requests = Links(9090, 360).Select((query, i) => RandomLinks.AsRequestTarget(pages[i % pages.Length], query)).ToList();
        var failures = new ConcurrentBag<string>();
        var clock = Stopwatch.StartNew();

        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (target, cancellation) =>
        {
            using var response = await http.GetAsync(target, cancellation);
            var body = await response.Content.ReadAsStringAsync(cancellation);
            if (response.StatusCode != HttpStatusCode.OK || !body.Contains("<title>DiffusionLab", StringComparison.Ordinal))
                failures.Add($"{(int)response.StatusCode} {target}");
        });

        output.WriteLine($"{requests.Count} pages in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
    }

    [Theory]
    [InlineData("/compare?steps=1000000000&solvers=dps", "each at 1000 steps", "so the link's 1000000000 became 1000.")]
    [InlineData("/compare?steps=-5&solvers=dps", "each at 1 step.", "so the link's -5 became 1.")]
    [InlineData("/compare?op=denoise&solver=score-ald&steps=5000&solvers=dps,hqs", "each at 5000 steps",
        "HQS (half-quadratic splitting) and ADMM (alternating direction method of multipliers) take at most 500 steps, so they run 500, not 5000.")]
    [InlineData("/diversity?n=100000", "Draw 16 samples", "A batch draws between 1 and 16 seeds, so the link's 100000 became 16.")]
    [InlineData("/diversity?n=lots", "Draw 8 samples", "A batch draws between 1 and 16 seeds, and the link's 'lots' is not a whole number, so 8 is used.")]
    [InlineData("/?solver=dps&s.epsilon=0.5", "Diffusion posterior sampling (DPS)", "Diffusion posterior sampling (DPS) has no setting called 'epsilon', so the link's value for it is left out.")]
    [InlineData("/?op=box-inpainting&op.sigma=1.5", "Box inpainting", "Box inpainting has no setting called 'sigma', so the link's value for it is left out.")]
    public async Task A_page_says_what_it_did_with_a_number_or_setting_from_its_link(string target, string shown, string note)
    {
        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };

        var page = WebUtility.HtmlDecode(await http.GetStringAsync(target));

        Assert.Contains(shown, page);
        Assert.Contains(note, page);
        Assert.DoesNotContain("data-testid=\"problems\"", page); // the lab's list of what keeps Run from running
    }
}
