using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Tests.Runs;

/// <summary>The engine's link reader against the bundled priors and every corruption and solver.</summary>
public sealed class SpecLinkTests
{
    static readonly CatalogOfferings Offerings = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    static SpecLinkResult Read(string query, Func<ImageReference, bool>? hasUpload = null) =>
        SpecLink.Read(query, Offerings, hasUpload, ["solvers", "n"]);

    static void AssertRunnable(SpecLinkResult link) =>
        Assert.True(link.Spec.Validate(Offerings).Count == 0,
            string.Join(" ", link.Spec.Validate(Offerings).Select(p => p.Message)) + " in " + link.Spec.ToQueryString());

    [Fact]
    public void A_canonical_link_for_every_prior_corruption_and_solver_reads_back_unchanged_and_without_notes()
    {
        var checkedLinks = 0;
        foreach (var prior in Offerings.Priors)
            foreach (var op in OperatorCatalog.All)
                foreach (var solver in SolverCatalog.All.Where(s => s.RefusalOf(op) is null))
                {
                    var images = Offerings.ImageReferences(prior.Id);
                    var spec = (ExperimentSpec.Default with
                    {
                        Prior = prior.Id,
                        Image = images[^1],
                        Corruption = op.Id,
                        Solver = solver.Id,
                        Steps = solver.MaxSteps,
                        Seed = checkedLinks,
                        Noise = checkedLinks % 2 == 0 ? "gaussian" : "poisson",
                        PoissonRate = 250,
                    }).WithDefaults(op, solver);
                    if (spec.Noise == "gaussian") spec = spec with { PoissonRate = ExperimentSpec.Default.PoissonRate }; // not in a Gaussian link

                    var link = Read(spec.ToQueryString());

                    Assert.True(link.Readable);
                    Assert.Empty(link.Notes);
                    Assert.Equal(spec, link.Spec);
                    Assert.Equal(spec.ToQueryString(), link.Spec.ToQueryString());
                    checkedLinks++;
                }
        Assert.True(checkedLinks > 100, $"only {checkedLinks} links");
    }

    [Fact]
    public void An_unknown_prior_becomes_the_default_with_its_own_first_image()
    {
        var link = Read("prior=no-such-model&image=gallery%3A1f627&op=denoise&solver=ddim&steps=20");

        Assert.Equal(Offerings.DefaultPriorId, link.Spec.Prior);
        Assert.Equal(Offerings.ImageReferences(Offerings.DefaultPriorId)[0], link.Spec.Image);
        Assert.Equal(("denoise", "ddim", 20), (link.Spec.Corruption, link.Spec.Solver, link.Spec.Steps));
        var note = Assert.Single(link.Notes);
        Assert.Contains("prior called 'no-such-model'", note);
        Assert.Contains("is shown instead", note);
        AssertRunnable(link);
    }

    [Fact]
    public void An_image_the_prior_does_not_offer_becomes_its_first_and_says_so_but_a_bare_link_needs_no_note()
    {
        var link = Read("prior=emoji-32&image=gallery%3Aface-03");
        Assert.Equal(Offerings.ImageReferences("emoji-32")[0], link.Spec.Image);
        Assert.Contains("'gallery:face-03' is not among the images offered", Assert.Single(link.Notes));

        var kept = Read("prior=emoji-32&image=" + Uri.EscapeDataString(Offerings.ImageReferences("emoji-32")[2]));
        Assert.Equal(Offerings.ImageReferences("emoji-32")[2], kept.Spec.Image);
        Assert.Empty(kept.Notes);

        var bare = Read("");
        Assert.Equal(Offerings.DefaultPriorId, bare.Spec.Prior);
        Assert.Equal(Offerings.ImageReferences(Offerings.DefaultPriorId)[0], bare.Spec.Image);
        Assert.Empty(bare.Notes);
        AssertRunnable(bare);
    }

    [Fact]
    public void A_replaced_corruption_or_solver_starts_from_its_own_defaults_not_the_links_settings()
    {
        var link = Read("op=blurr&op.sigma=2&op.box-size=30&solver=dpss&s.zeta=7&steps=7");

        Assert.Equal("box-inpainting", link.Spec.Corruption);
        Assert.Equal(OperatorCatalog.Find("box-inpainting")!.Parameters.Single(p => p.Key == "box-size").Default, link.Spec.CorruptionParameters["box-size"]);
        Assert.False(link.Spec.CorruptionParameters.ContainsKey("sigma"));
        var dps = SolverCatalog.Find("dps")!;
        Assert.Equal("dps", link.Spec.Solver);
        Assert.Equal(dps.DefaultSteps, link.Spec.Steps);
        Assert.Equal(dps.DefaultsFor("box-inpainting")["zeta"], link.Spec.SolverParameters["zeta"]);
        Assert.Equal(2, link.Notes.Count);
        Assert.Contains(link.Notes, n => n.Contains("corruption called 'blurr'") && n.Contains("Box inpainting is shown instead"));
        Assert.Contains(link.Notes, n => n.Contains("solver called 'dpss'") && n.Contains("(DPS) is shown instead"));
        AssertRunnable(link);
    }

    [Theory]
    [InlineData("solver=dps&s.epsilon=0.5", "Diffusion posterior sampling (DPS) has no setting called 'epsilon'")]
    [InlineData("op=box-inpainting&op.sigma=1.5", "Box inpainting has no setting called 'sigma'")]
    public void A_setting_the_chosen_method_lacks_is_left_out_with_a_note(string query, string expected)
    {
        var link = Read(query);

        var note = Assert.Single(link.Notes);
        Assert.Contains(expected, note);
        Assert.Contains("left out", note);
        Assert.False(link.Spec.SolverParameters.ContainsKey("epsilon"));
        Assert.False(link.Spec.CorruptionParameters.ContainsKey("sigma"));
        AssertRunnable(link);
    }

    [Theory]
    [InlineData("steps=-5", "steps", 1, "Steps must be between 1 and 1000 for Diffusion posterior sampling (DPS), so the link's -5 became 1.")]
    [InlineData("steps=1000000000", "steps", 1000, "so the link's 1000000000 became 1000.")]
    [InlineData("steps=99999999999", "steps", 1000, "so the link's 99999999999 became 1000.")]
    [InlineData("solver=hqs&op=denoise&steps=5000", "steps", 500, "Steps must be between 1 and 500 for HQS (half-quadratic splitting), so the link's 5000 became 500.")]
    [InlineData("seed=-3", "seed", 0, "Seed must be zero or a positive whole number, so the link's -3 became 0.")]
    [InlineData("seed=99999999999", "seed", int.MaxValue, "so the link's 99999999999 became 2147483647.")]
    public void A_whole_number_out_of_range_is_clamped_and_the_note_says_what_it_became_and_why(string query, string field, int expected, string note)
    {
        var link = Read(query);

        Assert.Equal(expected, field == "steps" ? link.Spec.Steps : link.Spec.Seed);
        Assert.Contains(note, Assert.Single(link.Notes));
        AssertRunnable(link);
    }

    [Fact]
    public void Parameters_and_noise_out_of_range_are_clamped_rounded_or_chosen_each_with_a_note()
    {
        var link = Read("op=box-inpainting&op.box-size=300&op.margin=2.6&op.placement=7&noise=poisson&rate=0.5&sigmaY=3&solver=dps&s.zeta=-1");

        Assert.Equal(256, link.Spec.CorruptionParameters["box-size"]);
        Assert.Equal(3, link.Spec.CorruptionParameters["margin"]);
        Assert.Equal(2, link.Spec.CorruptionParameters["placement"]);
        Assert.Equal(1, link.Spec.PoissonRate);
        Assert.Equal(1, link.Spec.SigmaY);
        Assert.Equal(0, link.Spec.SolverParameters["zeta"]);
        Assert.Contains(link.Notes, n => n.Contains("Hole size must be between 1 and 256 pixels, so the link's 300 became 256."));
        Assert.Contains(link.Notes, n => n.Contains("Margin from the edge must be a whole number, so the link's 2.6 became 3."));
        Assert.Contains(link.Notes, n => n.Contains("so the link's 7 became at the chosen corner."));
        Assert.Contains(link.Notes, n => n.Contains("Poisson photon scale must be between 1 and 100000, so the link's 0.5 became 1."));
        Assert.Contains(link.Notes, n => n.Contains("sigmaY must be between 0 and 1, so the link's 3 became 1."));
        Assert.Contains(link.Notes, n => n.StartsWith("Diffusion posterior sampling (DPS): ζ (guidance step) must be between 0 and 20", StringComparison.Ordinal));
        Assert.Equal(6, link.Notes.Count);
        AssertRunnable(link);
    }

    [Fact]
    public void A_solver_that_needs_a_linear_corruption_is_replaced_on_a_nonlinear_one()
    {
        var link = Read("op=phase-retrieval&solver=admm&s.rho=3&steps=30");

        Assert.Equal("dps", link.Spec.Solver);
        Assert.Equal(SolverCatalog.Find("dps")!.DefaultSteps, link.Spec.Steps);
        Assert.Contains("needs a linear corruption", Assert.Single(link.Notes));
        AssertRunnable(link);
    }

    [Fact]
    public void An_unknown_noise_becomes_gaussian_with_a_note()
    {
        var link = Read("noise=laplace&sigmaY=0.2");

        Assert.Equal(("gaussian", 0.2), (link.Spec.Noise, link.Spec.SigmaY));
        Assert.Contains("'laplace'", Assert.Single(link.Notes));
    }

    [Fact]
    public void Unknown_keys_are_left_out_with_one_note_and_the_rest_of_the_link_is_kept()
    {
        var link = Read("op=gaussian-blur&seed=4&utm_source=mail&fbclid=abc&Steps=3");
        Assert.Equal(("gaussian-blur", 4), (link.Spec.Corruption, link.Spec.Seed));
        var note = Assert.Single(link.Notes);
        Assert.Contains("'utm_source', 'fbclid', 'Steps'", note);
        Assert.True(link.Readable);

        var many = Read(string.Join('&', Enumerable.Range(0, 9).Select(i => $"x{i}=1")));
        Assert.Contains("and 4 more", Assert.Single(many.Notes));
    }

    [Fact]
    public void A_pages_own_keys_come_back_as_written_and_are_not_noted()
    {
        var link = Read("solvers=dps,hqs&n=100000&steps=20");

        Assert.Empty(link.Notes);
        Assert.Equal("dps,hqs", link.PageValues["solvers"]);
        Assert.Equal("100000", link.PageValues["n"]);
        Assert.Contains("steps", link.Given);
        Assert.DoesNotContain("seed", link.Given);

        // Without the page keys, the same link has settings DiffusionLab does not know.
        Assert.Contains("'solvers', 'n'", Assert.Single(SpecLink.Read("solvers=dps,hqs&n=100000", Offerings).Notes));
    }

    [Fact]
    public void A_link_without_steps_gets_the_solvers_own_default()
    {
        Assert.Equal(SolverCatalog.Find("ddim")!.DefaultSteps, Read("solver=ddim").Spec.Steps);
        Assert.Equal(SolverCatalog.Find("hqs")!.DefaultSteps, Read("solver=hqs&op=denoise").Spec.Steps);
    }

    [Theory]
    [InlineData("op=zzz&seed=abc", "seed should be a whole number")]
    [InlineData("sigmaY=NaN&prior=gmm-image", "sigmaY should be a number")]
    [InlineData("seed=1&seed=2", "appears twice")]
    [InlineData("prior=", "prior '' is not valid")]
    [InlineData("s.zeta=one", "should be a number")]
    public void A_link_with_a_malformed_value_gives_the_default_measurement_and_one_note_why(string query, string why)
    {
        var link = Read(query);

        Assert.False(link.Readable);
        Assert.NotEmpty(link.Problems);
        var note = Assert.Single(link.Notes);
        Assert.Contains(why, note);
        Assert.EndsWith("The default measurement is shown instead.", note);
        Assert.Equal(ExperimentSpec.Default.Corruption, link.Spec.Corruption);
        Assert.Equal(Offerings.DefaultPriorId, link.Spec.Prior);
        Assert.Empty(link.Given);
        AssertRunnable(link);
    }

    [Fact]
    public void An_upload_is_kept_only_where_the_caller_allows_it()
    {
        const string query = "prior=gmm-image&image=upload%3Aabc123def456&op=denoise";
        ImageReference? asked = null;

        var mine = Read(query, reference => { asked = reference; return true; });
        Assert.Equal("upload:abc123def456", mine.Spec.Image);
        Assert.Empty(mine.Notes);
        Assert.Equal(new ImageReference(ImageSource.Upload, "abc123def456"), asked);

        foreach (var theirs in new[] { Read(query, _ => false), Read(query) })
        {
            Assert.Equal("sample:0", theirs.Spec.Image);
            Assert.Contains("stays with the browser that uploaded it", Assert.Single(theirs.Notes));
        }
    }

    [Fact]
    public void A_page_count_is_clamped_with_a_note_saying_what_it_became()
    {
        var notes = new List<string>();
        const string rule = "A batch draws between 1 and 16 seeds";

        Assert.Equal(8, SpecLink.ClampWhole(null, 1, 16, 8, rule, notes));
        Assert.Equal(5, SpecLink.ClampWhole("5", 1, 16, 8, rule, notes));
        Assert.Empty(notes);
        Assert.Equal(16, SpecLink.ClampWhole("100000", 1, 16, 8, rule, notes));
        Assert.Equal(1, SpecLink.ClampWhole("-99999999999999999999999", 1, 16, 8, rule, notes));
        Assert.Equal(8, SpecLink.ClampWhole("lots", 1, 16, 8, rule, notes));
        Assert.Equal(
        [
            "A batch draws between 1 and 16 seeds, so the link's 100000 became 16.",
            "A batch draws between 1 and 16 seeds, so the link's -99999999999999999999999 became 1.",
            "A batch draws between 1 and 16 seeds, and the link's 'lots' is not a whole number, so 8 is used.",
        ], notes);
    }

    [Fact]
    public void A_spec_in_hand_gets_the_same_replacements_as_a_link()
    {
        var spec = ExperimentSpec.Default with { Prior = "nope", Solver = "dps", Steps = 0, SolverParameters = ExperimentSpec.Default.SolverParameters.SetItem("epsilon", 1) };

        var (resolved, notes) = SpecLink.Resolve(spec, Offerings);

        Assert.Equal(1, resolved.Steps);
        Assert.Equal(3, notes.Count);
        Assert.Empty(resolved.Validate(Offerings));
    }

    [Fact]
    public void Thousands_of_random_links_never_throw_and_always_give_a_runnable_spec_that_reads_back_the_same()
    {
        var rng = new Random(20240611);
        for (var i = 0; i < 4000; i++)
        {
            var query = RandomLinks.Next(rng);
            var link = Read(query);
            Assert.True(link.Spec.Validate(Offerings).Count == 0,
                $"{query} gave {link.Spec.ToQueryString()}: " + string.Join(" ", link.Spec.Validate(Offerings).Select(p => p.Message)));
            Assert.All(link.Notes, note => Assert.False(string.IsNullOrWhiteSpace(note)));
            Assert.Equal(link.Readable, link.Problems.Count == 0);

            // What the reader made of a link is a canonical link: read again, it changes nothing and needs no note.
            var again = Read(link.Spec.ToQueryString());
            Assert.True(again.Notes.Count == 0, $"{query} → {link.Spec.ToQueryString()}: {string.Join(" | ", again.Notes)}");
            Assert.Equal(link.Spec.ToQueryString(), again.Spec.ToQueryString());
        }
    }
}
