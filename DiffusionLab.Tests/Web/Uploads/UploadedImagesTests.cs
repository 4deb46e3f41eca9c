using DiffusionLab.Engine.Imaging;
using DiffusionLab.Web;
using DiffusionLab.Web.Uploads;
using Microsoft.Extensions.Options;
using SkiaSharp;

namespace DiffusionLab.Tests.Web;

/// <summary>Uploads: cropped and resized to the prior's size, refused in plain words when unusable.</summary>
public sealed class UploadedImagesTests
{
    const string Mine = "0123456789abcdef0123456789abcdef", Theirs = "fedcba9876543210fedcba9876543210";

    readonly UploadedImages uploads = new(Options.Create(new LabOptions { MaxUploadBytes = 200_000 }));

    static byte[] Png(int width, int height, SKColor left, SKColor right)
    {
        using var bitmap = new SKBitmap(width, height);
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++)
                bitmap.SetPixel(x, y, x < width / 2 ? left : right);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    [Fact]
    public void A_wide_picture_is_centre_cropped_to_a_square_of_the_priors_size()
    {
        // 300×100: the centre square spans x = 100..200, half black and half white.
        var (reference, error) = uploads.Add(Png(300, 100, SKColors.Black, SKColors.White), size: 32, channels: 3, owner: Mine);

        Assert.Null(error);
        Assert.StartsWith("upload:", reference!.ToString()); // what a spec's image holds
        Assert.True(uploads.Contains(reference!, Mine));
        Assert.False(uploads.Contains(reference!, Theirs)); // another browser's link to it does not show it
        Assert.False(uploads.Contains(reference!, null));
        var image = uploads.Find(reference.Name)!;
        Assert.Equal((3, 32, 32), (image.Channels, image.Height, image.Width));
        Assert.Equal(-1f, image.Values[0], 2);       // left edge of the crop: black
        Assert.Equal(1f, image.Values[31], 2);       // right edge: white
    }

    [Fact]
    public void Unusable_files_are_refused_with_a_message()
    {
        var (reference, error) = uploads.Add("this is not a picture"u8.ToArray(), 32, 3, Mine);
        Assert.Null(reference);
        Assert.Contains("cannot be used", error);

        (reference, error) = uploads.Add(new byte[300_000], 32, 3, Mine);
        Assert.Null(reference);
        Assert.Contains("up to 0.2 MB", error);

        Assert.False(uploads.Contains(new ImageReference(ImageSource.Upload, "nothing-here"), Mine));
    }

    static readonly byte[] Small = Png(4, 4, SKColors.Red, SKColors.Blue);

    [Fact]
    public void A_browser_that_uploads_a_lot_pushes_out_only_its_own_oldest_uploads()
    {
        var kept = new UploadedImages(Options.Create(new LabOptions { UploadsPerBrowser = 20, UploadsKept = 400 }));
        var mine = kept.Add(Small, 8, 3, Mine).Reference!;
        var theirs = Enumerable.Range(0, 201).Select(_ => kept.Add(Small, 8, 3, Theirs).Reference!).ToList();

        Assert.True(kept.Contains(mine, Mine)); // 201 uploads from another browser leave mine alone
        Assert.All(theirs[^20..], upload => Assert.True(kept.Contains(upload, Theirs))); // their newest 20 stay
        Assert.All(theirs[..^20], upload => Assert.Null(kept.Find(upload.Name)));   // their older ones are gone
    }

    [Fact]
    public void A_full_server_takes_the_oldest_upload_of_the_browser_holding_the_most()
    {
        var kept = new UploadedImages(Options.Create(new LabOptions { UploadsPerBrowser = 4, UploadsKept = 6 }));
        const string Third = "00000000000000000000000000000003";
        var mine = Enumerable.Range(0, 2).Select(_ => kept.Add(Small, 8, 3, Mine).Reference!).ToList();
        var third = kept.Add(Small, 8, 3, Third).Reference!;
        var theirs = Enumerable.Range(0, 4).Select(_ => kept.Add(Small, 8, 3, Theirs).Reference!).ToList(); // 7 in all: one too many

        Assert.All(mine, upload => Assert.True(kept.Contains(upload, Mine)));
        Assert.True(kept.Contains(third, Third));
        Assert.Null(kept.Find(theirs[0].Name)); // the browser with the most gave up its oldest, though mine are older
        Assert.All(theirs[1..], upload => Assert.True(kept.Contains(upload, Theirs)));
    }
}
