using DiffusionLab.Engine.Imaging;
using SkiaSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Imaging;

public class ImageCodecTests
{
    /// <summary>Values that are exactly some byte b mapped to b/127.5 − 1.</summary>
    static Tensor QuantisedImage(int channels, int size, int seed)
    {
        var generator = new Generator((ulong)seed);
        return randint(0, 256, [channels, size, size], generator: generator).to(float32) / 127.5 - 1;
    }

    [Theory]
    [InlineData(ImageFormat.Png)]
    [InlineData(ImageFormat.WebP)]
    public void Encode_then_decode_returns_the_image(ImageFormat format)
    {
        using var scope = NewDisposeScope();
        var image = QuantisedImage(3, 16, 1);
        var decoded = ImageCodec.Decode(ImageCodec.Encode(image, format, quality: 100), 16);
        Assert.Equal(new long[] { 3, 16, 16 }, decoded.shape);
        var error = (decoded - image).abs().max().item<float>();
        if (format == ImageFormat.Png) Assert.True(error < 1e-6, $"PNG is lossless, yet the error is {error}");
        else Assert.True((decoded - image).abs().mean().item<float>() < 0.1, "WebP at quality 100 should be close");
    }

    [Fact]
    public void Grey_images_round_trip()
    {
        using var scope = NewDisposeScope();
        var image = QuantisedImage(1, 8, 2);
        var decoded = ImageCodec.Decode(ImageCodec.Encode(image), 8, channels: 1);
        Assert.True((decoded - image).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void Transparency_is_composited_on_white()
    {
        using var scope = NewDisposeScope();
        using var bitmap = new SKBitmap(new SKImageInfo(4, 4, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        bitmap.Erase(new SKColor(0, 0, 0, 0));
        bitmap.SetPixel(0, 0, new SKColor(0, 0, 0, 255));
        using var data = SKImage.FromBitmap(bitmap).Encode(SKEncodedImageFormat.Png, 100);
        var decoded = ImageCodec.Decode(data.ToArray(), 4);
        Assert.Equal(-1f, decoded[0, 0, 0].item<float>());
        Assert.Equal(1f, decoded[0, 3, 3].item<float>());
        Assert.Equal(1f, decoded[2, 1, 2].item<float>());
    }

    [Fact]
    public void A_rectangle_is_centre_cropped_to_a_square()
    {
        using var scope = NewDisposeScope();
        // 8 wide, 4 high: black columns 0-1 and 6-7, red in the middle 4 columns.
        var image = full([3, 4, 8], -1f);
        image[0, TensorIndex.Colon, TensorIndex.Slice(2, 6)] = tensor(1f);
        var decoded = ImageCodec.Decode(ImageCodec.Encode(image), 4);
        Assert.Equal(new long[] { 3, 4, 4 }, decoded.shape);
        Assert.True(decoded[0].eq(1).all().item<bool>(), "the crop should keep only the red middle");
        Assert.True(decoded[1].eq(-1).all().item<bool>());
    }

    [Fact]
    public void Grid_tiles_a_batch_with_white_gutters()
    {
        using var scope = NewDisposeScope();
        var batch = full([5, 3, 4, 4], -1f);
        var grid = ImageCodec.Grid(batch, columns: 3);
        Assert.Equal(new long[] { 3, 2 * 5 - 1, 3 * 5 - 1 }, grid.shape);
        Assert.Equal(1f, grid[0, 4, 0].item<float>());    // gutter row
        Assert.Equal(-1f, grid[0, 5, 5].item<float>());   // image 4 (row 1, column 1)
        Assert.Equal(1f, grid[0, 5, 10].item<float>());   // the empty sixth cell stays white
    }

    [Fact]
    public void Garbage_and_empty_input_are_refused_in_words()
    {
        Assert.Contains("not a picture", Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 8)).Message);
        Assert.Contains("empty", Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(Array.Empty<byte>(), 8)).Message);
    }

    [Fact]
    public void A_picture_declaring_more_than_16_megapixels_is_refused_before_decoding()
    {
        var png = PngHeaderOnly(width: 5000, height: 4000);
        var e = Assert.Throws<ImageDecodeException>(() => ImageCodec.Decode(png, 32));
        Assert.Contains("5000 × 4000", e.Message);
        Assert.Contains("megapixels", e.Message);
    }

    /// <summary>A PNG that declares its size but carries almost no pixel data (an empty zlib stream): only the header is real.</summary>
    static byte[] PngHeaderOnly(int width, int height)
    {
        var bytes = new List<byte> { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A };
        void Chunk(string type, byte[] body)
        {
            var typed = System.Text.Encoding.ASCII.GetBytes(type).Concat(body).ToArray();
            bytes.AddRange(BigEndian(body.Length));
            bytes.AddRange(typed);
            bytes.AddRange(BigEndian((int)Crc32(typed)));
        }
        // 8-bit RGB, deflate, no filter, no interlace
        Chunk("IHDR", [.. BigEndian(width), .. BigEndian(height), 8, 2, 0, 0, 0]);
        Chunk("IDAT", [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        Chunk("IEND", []);
        return bytes.ToArray();
    }

    static byte[] BigEndian(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        return ~crc;
    }
}
