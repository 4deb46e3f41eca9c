using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web;
using DiffusionLab.Web.Features.Shared;
using DiffusionLab.Web.Uploads;

namespace DiffusionLab.Tests.Priors;

public sealed class PriorCatalogTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-gallery-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    [Fact]
    public void Gallery_labels_come_from_labels_tsv_and_unusable_lines_are_skipped()
    {
        var gallery = Path.Combine(folder, "emoji-32");
        Directory.CreateDirectory(gallery);
        File.WriteAllLines(Path.Combine(gallery, "labels.tsv"),
        [
            "1f627\tAnguished face",
            "no-tab-here",
            "1f4a6\t",                      // empty label
            "2b50\tStar\twith an extra field",
            "1f600\t" + new string('x', 101), // too long for a picker
            "1f601\tBell\u0007",              // control character
        ]);
        var catalog = new PriorCatalog(folder);

        var labels = catalog.GalleryLabels("emoji-32");

        Assert.Equal(new Dictionary<string, string> { ["1f627"] = "Anguished face" }, labels);
        Assert.Empty(catalog.GalleryLabels("pixel-faces-32")); // no labels.tsv: no labels
        Assert.Empty(catalog.GalleryLabels("../emoji-32"));    // never a path outside the gallery
    }

    [Fact]
    public void The_lab_picker_names_bundled_emoji_in_words_and_faces_by_file()
    {
        var lab = new LabCatalog(PriorCatalog.ForContentRoot(ContentRoot.Find()));

        var emoji = lab.Images("emoji-32");
        Assert.Equal(12, emoji.Count);
        Assert.Contains(new ImageChoice("gallery:1f627", "Anguished face"), emoji);
        Assert.All(emoji, choice => Assert.DoesNotMatch("^[0-9a-f-]+$", choice.Label));

        Assert.All(lab.Images("pixel-faces-32"), choice => Assert.Equal("gallery:" + choice.Label, choice.Reference));
    }

    [Theory]
    [InlineData("n=6")]                                         // the diversity page with only its own key
    [InlineData("solvers=dps,hqs&steps=20")]                    // compare with page keys and a step count
    [InlineData("prior=pixel-faces-32&image=gallery%3A0&op=denoise")] // a link from a server with numbered images
    public void A_classroom_link_without_an_offered_image_gets_the_priors_first(string query)
    {
        var lab = new LabCatalog(PriorCatalog.ForContentRoot(ContentRoot.Find()));
        var spec = ClassroomSpec.Read(query, lab).Spec;
        Assert.Equal("pixel-faces-32", spec.Prior);
        Assert.Equal(lab.Images("pixel-faces-32")[0].Reference, spec.Image);

        var kept = ClassroomSpec.Read("image=" + Uri.EscapeDataString(lab.Images("pixel-faces-32")[3].Reference), lab).Spec;
        Assert.Equal(lab.Images("pixel-faces-32")[3].Reference, kept.Image); // an offered image is kept
    }

    [Fact]
    public void A_classroom_link_naming_what_the_lab_lacks_keeps_the_rest_and_says_what_it_replaced()
    {
        var lab = new LabCatalog(PriorCatalog.ForContentRoot(ContentRoot.Find()));

        var (spec, notes) = ClassroomSpec.Read("prior=nope&op=gaussian-blur&op.sigma=2&seed=4&solvers=dps", lab);
        Assert.Equal("pixel-faces-32", spec.Prior);
        Assert.Equal("gaussian-blur", spec.Corruption);
        Assert.Equal(2, spec.CorruptionParameters["sigma"]);
        Assert.Equal(4, spec.Seed);
        Assert.Contains("prior called 'nope'", Assert.Single(notes));

        // A link that cannot be read at all: the default measurement, and why.
        (spec, notes) = ClassroomSpec.Read("op=zzz&seed=abc", lab);
        Assert.Equal(ExperimentSpec.Default.Corruption, spec.Corruption);
        Assert.Equal("pixel-faces-32", spec.Prior);
        Assert.Contains("seed should be a whole number", Assert.Single(notes));

        Assert.Empty(ClassroomSpec.Read("solvers=dps,hqs&steps=20", lab).Notes);

        // An upload is kept for the browser that uploaded it, and replaced by a gallery image for any other.
        var uploads = new UploadedImages(Microsoft.Extensions.Options.Options.Create(new DiffusionLab.Web.LabOptions()));
        const string mine = "0123456789abcdef0123456789abcdef";
        var (reference, _) = uploads.Add(File.ReadAllBytes(Path.Combine(ContentRoot.Find(), "docs", "screenshots", "lab.png")), 32, 3, mine);
        var query = "op=denoise&image=" + Uri.EscapeDataString(reference!.ToString());
        Assert.Equal(reference.ToString(), ClassroomSpec.Read(query, lab, uploads, mine).Spec.Image);
        (spec, notes) = ClassroomSpec.Read(query, lab, uploads, "fedcba9876543210fedcba9876543210");
        Assert.Equal(lab.Images("pixel-faces-32")[0].Reference, spec.Image);
        Assert.Contains("stays with the browser that uploaded it", Assert.Single(notes));
    }
}
