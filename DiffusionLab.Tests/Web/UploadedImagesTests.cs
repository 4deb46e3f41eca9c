using DiffusionLab.Engine.Imaging;
using DiffusionLab.Web;
using Microsoft.Extensions.Options;
using SkiaSharp;
using DiffusionLab.Web.Uploads;

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
}
