using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// Writes an animated PNG (APNG) from RGBA frames, upscaled by whole pixels so a 32×32
/// trajectory stays crisp. SkiaSharp encodes single images only; APNG keeps full colour
/// (a GIF would need a 256-colour palette) and every current browser plays it.
/// </summary>
public static class AnimatedPngEncoder
{
    static readonly byte[] Signature = [137, 80, 78, 71, 13, 10, 26, 10];
    static readonly uint[] CrcTable = BuildCrcTable();

    /// <param name="frames">RGBA bytes of each frame, all width × height.</param>
    /// <param name="scale">Whole-pixel upscaling factor (nearest neighbour).</param>
    /// <param name="frameDelayMs">How long each frame shows; the last one holds three times as long.</param>
    public static byte[] Encode(IReadOnlyList<byte[]> frames, int width, int height, int scale = 4, int frameDelayMs = 100)
    {
        if (frames.Count == 0) throw new ArgumentException("an animation needs at least one frame", nameof(frames));
        if (scale < 1) throw new ArgumentOutOfRangeException(nameof(scale));
        var outWidth = width * scale;
        var outHeight = height * scale;
        using var output = new MemoryStream();
        output.Write(Signature);

        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(0), (uint)outWidth);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)outHeight);
        header[8] = 8;  // bits per channel
        header[9] = 6;  // RGBA
        WriteChunk(output, "IHDR", header);

        var animationControl = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(animationControl.AsSpan(0), (uint)frames.Count);
        BinaryPrimitives.WriteUInt32BigEndian(animationControl.AsSpan(4), 0);  // loop forever
        WriteChunk(output, "acTL", animationControl);

        uint sequence = 0;
        for (var f = 0; f < frames.Count; f++)
        {
            if (frames[f].Length != width * height * 4) throw new ArgumentException($"frame {f} is not {width}×{height} RGBA", nameof(frames));
            var frameControl = new byte[26];
            BinaryPrimitives.WriteUInt32BigEndian(frameControl.AsSpan(0), sequence++);
            BinaryPrimitives.WriteUInt32BigEndian(frameControl.AsSpan(4), (uint)outWidth);
            BinaryPrimitives.WriteUInt32BigEndian(frameControl.AsSpan(8), (uint)outHeight);
            // x and y offsets stay 0 (bytes 12..19)
            var delay = f == frames.Count - 1 ? frameDelayMs * 3 : frameDelayMs;
            BinaryPrimitives.WriteUInt16BigEndian(frameControl.AsSpan(20), (ushort)Math.Min(delay, ushort.MaxValue));
            BinaryPrimitives.WriteUInt16BigEndian(frameControl.AsSpan(22), 1000);
            frameControl[24] = 0;  // dispose: none
            frameControl[25] = 0;  // blend: source (each frame replaces the last)
            WriteChunk(output, "fcTL", frameControl);

            var compressed = Compress(frames[f], width, height, scale);
            if (f == 0)
                WriteChunk(output, "IDAT", compressed);
            else
            {
                var data = new byte[compressed.Length + 4];
                BinaryPrimitives.WriteUInt32BigEndian(data, sequence++);
                compressed.CopyTo(data, 4);
                WriteChunk(output, "fdAT", data);
            }
        }
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    static byte[] Compress(byte[] rgba, int width, int height, int scale)
    {
        var outWidth = width * scale;
        var row = new byte[1 + outWidth * 4];  // filter byte 0 (none) then the pixels
        using var buffer = new MemoryStream();
        using (var zlib = new ZLibStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            for (var y = 0; y < height; y++)
            {
                for (var x = 0; x < outWidth; x++)
                    Buffer.BlockCopy(rgba, (y * width + x / scale) * 4, row, 1 + x * 4, 4);
                for (var repeat = 0; repeat < scale; repeat++) zlib.Write(row);
            }
        }
        return buffer.ToArray();
    }

    static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(word, (uint)data.Length);
        output.Write(word);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        var crc = UpdateCrc(UpdateCrc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        output.Write(word);
    }

    static uint UpdateCrc(uint crc, byte[] bytes)
    {
        foreach (var b in bytes) crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    static uint[] BuildCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            var c = n;
            for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
