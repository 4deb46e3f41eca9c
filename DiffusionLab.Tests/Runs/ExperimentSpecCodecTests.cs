using DiffusionLab.Engine;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using System.Collections.Immutable;

namespace DiffusionLab.Tests.Runs;

public class ExperimentSpecCodecTests
{
    static ExperimentSpec RandomSpec(Random rng)
    {
        string Word(int max) => new(Enumerable.Range(0, rng.Next(1, max)).Select(_ => "abcxyz-_019"[rng.Next(11)]).ToArray());
        double Number() => rng.Next(4) switch
        {
            0 => rng.NextDouble(),
            1 => rng.Next(-1000, 1000),
            2 => Math.Pow(10, rng.Next(-12, 12)) * rng.NextDouble(),
            _ => -rng.NextDouble() * 1e-7,
        };
        ImmutableSortedDictionary<string, double> Parameters() =>
            Enumerable.Range(0, rng.Next(0, 5)).Select(_ => Word(8)).Distinct()
                .ToImmutableSortedDictionary(k => k, _ => Number(), StringComparer.Ordinal);
        var noise = rng.Next(2) == 0 ? "gaussian" : "poisson";
        return new ExperimentSpec
        {
            Prior = Word(20),
            Image = (rng.Next(3) switch { 0 => "gallery:", 1 => "sample:", _ => "upload:" }) + Word(10),
            Corruption = Word(16),
            CorruptionParameters = Parameters(),
            Noise = noise,
            SigmaY = rng.NextDouble(),
            PoissonRate = noise == "poisson" ? rng.Next(1, 1000) + rng.NextDouble() : ExperimentSpec.Default.PoissonRate,
            Solver = Word(12),
            SolverParameters = Parameters(),
            Steps = rng.Next(1, 2000),
            Seed = rng.Next(),
            SampleSeed = rng.Next(3) == 0 ? rng.Next() : null,
        };
    }

    [Fact]
    public void Query_string_round_trips_for_many_random_specs()
    {
        var rng = new Random(1234);
        for (int i = 0; i < 500; i++)
        {
            var spec = RandomSpec(rng);
            var text = spec.ToQueryString();
            var parsed = ExperimentSpec.Parse(text);
            Assert.True(parsed.Succeeded, string.Join("; ", parsed.Problems.Select(p => p.Message)) + " in " + text);
            Assert.Equal(spec, parsed.Spec);
            Assert.Equal(text, parsed.Spec!.ToQueryString());
        }
    }

    [Fact]
    public void A_sample_seed_is_written_only_when_it_differs_from_the_seed_so_older_links_stay_as_they_were()
    {
        var plain = ExperimentSpec.Default with { Seed = 7 };
        Assert.DoesNotContain("sampleSeed", plain.ToQueryString());
        Assert.Equal(7, plain.FirstSampleSeed);
        Assert.Equal(plain, plain with { SampleSeed = 7 });
        Assert.Equal(plain.ToQueryString(), (plain with { SampleSeed = 7 }).ToQueryString());

        var other = plain with { SampleSeed = 9 };
        Assert.NotEqual(plain, other);
        Assert.EndsWith("&seed=7&sampleSeed=9", other.ToQueryString());
        Assert.Equal(9, ExperimentSpec.Parse(other.ToQueryString()).Spec!.FirstSampleSeed);
        Assert.Contains(ExperimentSpec.Parse("sampleSeed=x").Problems, p => p.Field == "sampleSeed");
        Assert.Contains((plain with { SampleSeed = -1 }).Validate(), p => p.Field == "sampleSeed");
    }

    [Fact]
    public void The_link_reader_keeps_a_sample_seed_and_clamps_one_out_of_range_with_a_note()
    {
        var offerings = new CatalogOfferings(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        var kept = SpecLink.Read("op=denoise&solver=ddim&seed=3&sampleSeed=8", offerings);
        Assert.Empty(kept.Notes);
        Assert.Equal((3, 8), (kept.Spec.Seed, kept.Spec.FirstSampleSeed));
        Assert.EndsWith("&seed=3&sampleSeed=8", kept.Spec.ToQueryString());

        Assert.Null(SpecLink.Read("op=denoise&seed=3", offerings).Spec.SampleSeed);

        var negative = SpecLink.Read("op=denoise&seed=3&sampleSeed=-2", offerings);
        Assert.Equal(0, negative.Spec.FirstSampleSeed);
        Assert.Contains("The sample seed must be zero or a positive whole number, so the link's -2 became 0.", Assert.Single(negative.Notes));
        var huge = SpecLink.Read("op=denoise&seed=3&sampleSeed=99999999999", offerings);
        Assert.Equal(int.MaxValue, huge.Spec.FirstSampleSeed);
        Assert.Empty(huge.Spec.Validate(offerings));
    }

    [Fact]
    public void Query_string_is_url_safe()
    {
        var rng = new Random(7);
        for (int i = 0; i < 100; i++)
        {
            var text = RandomSpec(rng).ToQueryString();
            Assert.True(text.All(c => char.IsAsciiLetterOrDigit(c) || "-_.~%&=".Contains(c)), text);
        }
    }

    [Fact]
    public void Leading_question_mark_and_missing_keys_keep_defaults()
    {
        var parsed = ExperimentSpec.Parse("?seed=7");
        Assert.True(parsed.Succeeded);
        Assert.Equal(ExperimentSpec.Default with { Seed = 7 }, parsed.Spec);
    }

    [Theory]
    [InlineData("steps=abc", "steps")]
    [InlineData("sigmaY=NaN", "sigmaY")]
    [InlineData("sigmaY=1e999", "sigmaY")]
    [InlineData("seed=1&seed=2", "seed")]
    [InlineData("op.size=", "corruption.size")]
    [InlineData("s.zeta=one", "solver.zeta")]
    [InlineData("bogus=1", "link")]
    [InlineData("steps=99999999999", "steps")]
    [InlineData("prior=", "prior")]
    public void Malformed_values_are_reported_against_their_field(string query, string field)
    {
        var parsed = ExperimentSpec.Parse(query);
        Assert.False(parsed.Succeeded);
        Assert.Contains(parsed.Problems, p => p.Field == field);
        Assert.All(parsed.Problems, p => Assert.False(string.IsNullOrWhiteSpace(p.Message)));
    }

    [Fact]
    public void Several_problems_are_reported_at_once()
    {
        var parsed = ExperimentSpec.Parse("steps=x&seed=y&sigmaY=z");
        Assert.Equal(3, parsed.Problems.Count);
    }

    [Fact]
    public void Random_garbage_never_throws()
    {
        var rng = new Random(99);
        const string alphabet = "abc=&%?+.;:/\\\0\u00e9\u2603 0123456789-_sop";
        for (int i = 0; i < 3000; i++)
        {
            var text = new string(Enumerable.Range(0, rng.Next(0, 200)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            var parsed = ExperimentSpec.Parse(text);
            Assert.True(parsed.Succeeded || parsed.Problems.Count > 0);
            if (parsed.Spec is { } spec) _ = spec.Validate();
        }
        Assert.False(ExperimentSpec.Parse(new string('a', ExperimentSpec.MaxLength + 1)).Succeeded);
    }

    [Theory]
    [InlineData("gallery:face-03", true)]
    [InlineData("sample:12", true)]
    [InlineData("upload:ab12cd", true)]
    [InlineData("gallery:../../etc/passwd", false)]
    [InlineData("sample:abc", false)]
    [InlineData("http:x", false)]
    [InlineData("noColon", false)]
    [InlineData("%ZZ", false)]
    public void Image_references_are_checked(string text, bool valid)
    {
        Assert.Equal(valid, ImageReference.TryParse(text, out _) is null);
    }

    [Fact]
    public void Validation_reports_every_problem_in_plain_words()
    {
        var spec = ExperimentSpec.Default with { Prior = "nope", Corruption = "nope", Solver = "nope", SigmaY = 3, Seed = -1, Image = "x" };
        var problems = spec.Validate(["pixel-faces-32"]);
        foreach (var field in new[] { "prior", "corruption", "solver", "sigmaY", "seed", "image" })
            Assert.Contains(problems, p => p.Field == field);
    }
}
