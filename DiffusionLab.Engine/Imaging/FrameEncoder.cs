using SkiaSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Imaging;

/// <summary>The picture formats a lab frame can travel in.</summary>
public enum FrameFormat { Png, Webp }

/// <summary>
/// Turns one image tensor [C, H, W] with values in [-1, 1] (C = 1 or 3) into small PNG or WebP
/// bytes for the browser. Lossless throughout: at 32×32 a lossy codec would smear exactly the
/// pixels a student is asked to look at, and lossless WebP/PNG of such images is only ~1–3 kB.
/// </summary>
public static class FrameEncoder
{
    /// <summary>Straight RGBA bytes (row-major, alpha 255), the common step of every encoding.</summary>
    public static byte[] ToRgba(Tensor image, out int width, out int height)
    {
        if (image.dim() != 3) throw new ArgumentException($"expected [C, H, W], got [{string.Join(", ", image.shape)}]", nameof(image));
        var channels = (int)image.shape[0];
        if (channels is not (1 or 3)) throw new ArgumentException($"expected 1 or 3 channels, got {channels}", nameof(image));
        height = (int)image.shape[1];
        width = (int)image.shape[2];
        float[] values;
        using (var scope = NewDisposeScope())
            values = image.detach().to(CPU).to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        var plane = width * height;
        var rgba = new byte[plane * 4];
        for (var p = 0; p < plane; p++)
        {
            for (var c = 0; c < 3; c++)
                rgba[p * 4 + c] = ToByte(values[(channels == 1 ? 0 : c) * plane + p]);
            rgba[p * 4 + 3] = 255;
        }
        return rgba;
    }

    public static byte[] Encode(Tensor image, FrameFormat format = FrameFormat.Png)
    {
        var rgba = ToRgba(image, out var width, out var height);
        return EncodeRgba(rgba, width, height, format);
    }

    public static byte[] EncodeRgba(byte[] rgba, int width, int height, FrameFormat format)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(rgba, System.Runtime.InteropServices.GCHandleType.Pinned);
        try
        {
            using var pinned = new SKPixmap(info, handle.AddrOfPinnedObject());
            using var data = format == FrameFormat.Webp
                ? pinned.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 50))
                : pinned.Encode(SKPngEncoderOptions.Default);
            return data?.ToArray() ?? throw new InvalidOperationException($"Skia could not encode a {width}×{height} frame as {format}.");
        }
        finally
        {
            handle.Free();
        }
    }

    /// <summary>Decodes an encoded frame back to straight RGBA bytes.</summary>
    public static byte[] DecodeRgba(byte[] encoded, out int width, out int height)
    {
        using var decoded = SKBitmap.Decode(encoded) ?? throw new ArgumentException("not a decodable image", nameof(encoded));
        using var rgba = new SKBitmap(decoded.Width, decoded.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        if (!decoded.CopyTo(rgba, SKColorType.Rgba8888)) throw new InvalidOperationException("could not convert the frame to RGBA");
        width = rgba.Width;
        height = rgba.Height;
        return rgba.Bytes;
    }

    /// <summary>A frame enlarged by whole pixels (nearest neighbour), as PNG: a 32×32 result is too small to look at.</summary>
    public static byte[] UpscalePng(byte[] encoded, int scale)
    {
        var rgba = DecodeRgba(encoded, out var width, out var height);
        var large = new byte[rgba.Length * scale * scale];
        var outWidth = width * scale;
        for (var y = 0; y < height * scale; y++)
            for (var x = 0; x < outWidth; x++)
                Buffer.BlockCopy(rgba, ((y / scale) * width + x / scale) * 4, large, (y * outWidth + x) * 4, 4);
        return EncodeRgba(large, outWidth, height * scale, FrameFormat.Png);
    }

    static byte ToByte(float v)
    {
        if (float.IsNaN(v)) return 0;
        var scaled = (v + 1f) * 127.5f;
        return (byte)Math.Clamp((int)MathF.Round(scaled), 0, 255);
    }
}
