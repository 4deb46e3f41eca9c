using DiffusionLab.Engine.Imaging;
using SkiaSharp;
using System.Buffers.Binary;
using System.Text;

namespace DiffusionLab.Tests.Imaging;

/// <summary>The animated PNG writer behind the trajectory download.</summary>
public sealed class AnimatedPngEncoderTests
{
    static byte[] Solid(int width, int height, byte r, byte g, byte b)
    {
        var rgba = new byte[width * height * 4];
        for (var p = 0; p < width * height; p++) (rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2], rgba[4 * p + 3]) = (r, g, b, 255);
        return rgba;
    }

    static List<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (var at = 8; at < png.Length;)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at));
            chunks.Add((Encoding.ASCII.GetString(png, at + 4, 4), png.AsSpan(at + 8, length).ToArray()));
            at += 12 + length;
        }
        return chunks;
    }

    [Fact]
    public void Every_frame_gets_a_frame_control_chunk_and_a_png_reader_sees_the_first_frame_enlarged()
    {
        var frames = new[] { Solid(3, 2, 255, 0, 0), Solid(3, 2, 0, 255, 0), Solid(3, 2, 0, 0, 255) };

        var png = AnimatedPngEncoder.Encode(frames, 3, 2, scale: 4);

        var chunks = Chunks(png);
        Assert.Equal("IHDR", chunks[0].Type);
        var animation = chunks.Single(c => c.Type == "acTL").Data;
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(animation));
        Assert.Equal(3, chunks.Count(c => c.Type == "fcTL"));
        Assert.Equal(2, chunks.Count(c => c.Type == "fdAT"));
        Assert.Equal("IEND", chunks[^1].Type);
        var sequence = chunks.Where(c => c.Type is "fcTL" or "fdAT").Select(c => BinaryPrimitives.ReadUInt32BigEndian(c.Data)).ToList();
        Assert.Equal(Enumerable.Range(0, sequence.Count).Select(i => (uint)i), sequence);

        // Skia checks every chunk's CRC and decodes the default image (the first frame).
        using var decoded = SKBitmap.Decode(png);
        Assert.NotNull(decoded);
        Assert.Equal((12, 8), (decoded.Width, decoded.Height));
        Assert.Equal(new SKColor(255, 0, 0), decoded.GetPixel(11, 7));
    }

    [Fact]
    public void Frames_of_the_wrong_size_are_refused()
    {
        Assert.Throws<ArgumentException>(() => AnimatedPngEncoder.Encode([Solid(3, 2, 0, 0, 0), Solid(2, 2, 0, 0, 0)], 3, 2));
        Assert.Throws<ArgumentException>(() => AnimatedPngEncoder.Encode([], 3, 2));
    }
}
