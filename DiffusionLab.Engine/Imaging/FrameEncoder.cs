using SkiaSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// Frames for the browser: one image [C, H, W] in [-1, 1] as a small lossless PNG (at 32×32 a
/// lossy codec would smear exactly the pixels a student is asked to look at), and the byte-level
/// steps the downloads need (back to RGBA, whole-pixel enlargement).
/// </summary>
public static class FrameEncoder
{
    public const string Mime = "image/png";

    /// <summary>One image [C, H, W], or the first of a batch [B, C, H, W], as PNG bytes.</summary>
    public static byte[] Encode(Tensor image)
    {
        using var scope = NewDisposeScope();
        return ImageCodec.Encode(image.dim() == 4 ? image[0] : image, ImageFormat.Png);
    }

    /// <summary>
    /// An image already copied out of libtorch as PNG bytes: what the web's encoder thread does,
    /// so that the solver's thread only pays for the copy.
    /// </summary>
    public static byte[] Encode(PixelImage image)
    {
        if (image.Channels is not (1 or 3)) throw new ArgumentException($"expected 1 or 3 channels, got {image.Channels}", nameof(image));
        var plane = image.Height * image.Width;
        var rgba = new byte[plane * 4];
        var values = image.Values;
        for (var p = 0; p < plane; p++)
        {
            rgba[4 * p] = ToByte(values[p]);
            rgba[4 * p + 1] = ToByte(values[image.Channels == 3 ? plane + p : p]);
            rgba[4 * p + 2] = ToByte(values[image.Channels == 3 ? 2 * plane + p : p]);
            rgba[4 * p + 3] = 255;
        }
        return EncodeRgba(rgba, image.Width, image.Height);
    }

    /// <summary>Decodes an encoded frame to straight RGBA bytes, row-major.</summary>
    public static byte[] DecodeRgba(byte[] encoded, out int width, out int height)
    {
        using var decoded = ImageCodec.DecodeToBitmap(encoded);
        using var rgba = new SKBitmap(new SKImageInfo(decoded.Width, decoded.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        if (!decoded.CopyTo(rgba, SKColorType.Rgba8888)) throw new InvalidOperationException("could not convert the frame to RGBA");
        width = rgba.Width;
        height = rgba.Height;
        return rgba.Bytes;
    }

    /// <summary>A frame enlarged by whole pixels (nearest neighbour), as PNG: a 32×32 result is too small to look at.</summary>
    public static byte[] UpscalePng(byte[] encoded, int scale)
    {
        var rgba = DecodeRgba(encoded, out var width, out var height);
        var outWidth = width * scale;
        var large = new byte[rgba.Length * scale * scale];
        for (var y = 0; y < height * scale; y++)
            for (var x = 0; x < outWidth; x++)
                Buffer.BlockCopy(rgba, ((y / scale) * width + x / scale) * 4, large, (y * outWidth + x) * 4, 4);
        return EncodeRgba(large, outWidth, height * scale);
    }

    /// <summary>Straight RGBA bytes, row-major, as one PNG.</summary>
    public static byte[] EncodeRgba(byte[] rgba, int width, int height)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100) ?? throw new InvalidOperationException("Skia could not encode PNG");
        return data.ToArray();
    }

    static byte ToByte(float v)
    {
        if (float.IsNaN(v)) return 0;
        return (byte)Math.Clamp(MathF.Round((v + 1) * 127.5f), 0, 255);
    }
}
