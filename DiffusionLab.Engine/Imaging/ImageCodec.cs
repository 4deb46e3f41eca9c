using SkiaSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Imaging;

/// <summary>A picture that cannot be used: not an image, damaged, or too large. The message is meant for the person who supplied it.</summary>
public sealed class ImageDecodeException(string message) : Exception(message);

/// <summary>Image file formats the codec writes.</summary>
public enum ImageFormat { Png, WebP }

/// <summary>
/// Image bytes ⇄ tensors in the engine's convention: float32 [C, H, W] with values in [-1, 1]
/// (C = 3 for colour, 1 for grey). Decoding works on untrusted uploads, so every size is
/// checked against limits before pixels are allocated.
/// </summary>
public static class ImageCodec
{
    /// <summary>Largest encoded input accepted (bytes).</summary>
    public const long MaxEncodedBytes = 32L * 1024 * 1024;

    /// <summary>Largest decoded picture accepted (pixels): 16 megapixels.</summary>
    public const long MaxPixels = 16L * 1024 * 1024;

    /// <summary>Largest side accepted, so that a 1 × 16M strip cannot slip through.</summary>
    public const int MaxSide = 16384;

    /// <summary>
    /// Decodes PNG, JPEG, WebP (anything Skia reads), composites transparency on white,
    /// scales the shorter side to <paramref name="size"/> and centre-crops to a square.
    /// </summary>
    /// <param name="channels">3 for RGB, 1 for luminance.</param>
    public static Tensor Decode(ReadOnlySpan<byte> encoded, int size, int channels = 3)
    {
        if (size < 1 || size > 4096) throw new ArgumentOutOfRangeException(nameof(size), "the target size must be between 1 and 4096 pixels");
        using var bitmap = DecodeToBitmap(encoded);
        using var square = CropAndScaleOnWhite(bitmap, size);
        return FromBitmap(square, channels);
    }

    public static Tensor Decode(string path, int size, int channels = 3)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new ImageDecodeException($"{path}: no such file");
        if (info.Length > MaxEncodedBytes) throw new ImageDecodeException($"{path}: the file is {info.Length / (1024 * 1024)} MB; pictures up to {MaxEncodedBytes / (1024 * 1024)} MB are accepted");
        try { return Decode(File.ReadAllBytes(path), size, channels); }
        catch (ImageDecodeException e) { throw new ImageDecodeException($"{path}: {e.Message}"); }
    }

    /// <summary>Decodes to an 8-bit RGBA bitmap after checking the declared size against the limits.</summary>
    public static SKBitmap DecodeToBitmap(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length == 0) throw new ImageDecodeException("the file is empty");
        if (encoded.Length > MaxEncodedBytes) throw new ImageDecodeException($"the file is {encoded.Length / (1024 * 1024)} MB; pictures up to {MaxEncodedBytes / (1024 * 1024)} MB are accepted");
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new ImageDecodeException("this is not a picture the lab can read (PNG, JPEG or WebP expected)");
        var info = codec.Info;
        if (info.Width <= 0 || info.Height <= 0) throw new ImageDecodeException("the picture has no pixels");
        if (info.Width > MaxSide || info.Height > MaxSide || (long)info.Width * info.Height > MaxPixels)
            throw new ImageDecodeException($"the picture is {info.Width} × {info.Height} pixels; pictures up to {MaxPixels / (1024 * 1024)} megapixels and {MaxSide} pixels a side are accepted");
        var target = new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bitmap = new SKBitmap(target);
        var result = codec.GetPixels(target, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            bitmap.Dispose();
            throw new ImageDecodeException($"the picture could not be decoded ({result})");
        }
        return bitmap;
    }

    /// <summary>Scales the shorter side to <paramref name="size"/>, centre-crops, and flattens onto white.</summary>
    public static SKBitmap CropAndScaleOnWhite(SKBitmap source, int size)
    {
        var result = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(result);
        canvas.Clear(SKColors.White);
        double scale = (double)size / Math.Min(source.Width, source.Height);
        float w = (float)(source.Width * scale), h = (float)(source.Height * scale);
        var destination = SKRect.Create((size - w) / 2, (size - h) / 2, w, h);
        using var image = SKImage.FromBitmap(source);
        // Downscaling by large factors: mipmaps avoid aliasing; upscaling small pixel art: keep it crisp.
        var sampling = scale < 1 ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear) : new SKSamplingOptions(SKFilterMode.Nearest);
        canvas.DrawImage(image, destination, sampling);
        canvas.Flush();
        return result;
    }

    /// <summary>An opaque RGBA bitmap → [C, H, W] in [-1, 1].</summary>
    public static Tensor FromBitmap(SKBitmap bitmap, int channels = 3)
    {
        if (channels is not (1 or 3)) throw new ArgumentOutOfRangeException(nameof(channels), "channels must be 1 or 3");
        int w = bitmap.Width, h = bitmap.Height;
        var rgba = bitmap.Copy(SKColorType.Rgba8888) ?? throw new ImageDecodeException("the picture could not be converted to RGBA");
        using (rgba)
        {
            var bytes = rgba.Bytes;
            var values = new float[channels * h * w];
            int plane = h * w;
            for (int p = 0; p < plane; p++)
            {
                float r = bytes[4 * p], g = bytes[4 * p + 1], b = bytes[4 * p + 2];
                if (channels == 3)
                {
                    values[p] = r / 127.5f - 1;
                    values[plane + p] = g / 127.5f - 1;
                    values[2 * plane + p] = b / 127.5f - 1;
                }
                else values[p] = (0.299f * r + 0.587f * g + 0.114f * b) / 127.5f - 1;
            }
            return tensor(values, new long[] { channels, h, w });
        }
    }

    /// <summary>[C, H, W] in [-1, 1] (values outside are clipped) → an opaque RGBA bitmap.</summary>
    public static SKBitmap ToBitmap(Tensor image)
    {
        if (image.dim() != 3) throw new ArgumentException($"expected an image tensor [C, H, W], got shape [{string.Join(", ", image.shape)}]", nameof(image));
        int c = (int)image.shape[0], h = (int)image.shape[1], w = (int)image.shape[2];
        if (c is not (1 or 3)) throw new ArgumentException($"expected 1 or 3 channels, got {c}", nameof(image));
        using var cpu = image.detach().to(float32).cpu().contiguous();
        var values = cpu.data<float>().ToArray();
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var bytes = new byte[4 * h * w];
        int plane = h * w;
        for (int p = 0; p < plane; p++)
        {
            bytes[4 * p] = ToByte(values[p]);
            bytes[4 * p + 1] = ToByte(values[c == 3 ? plane + p : p]);
            bytes[4 * p + 2] = ToByte(values[c == 3 ? 2 * plane + p : p]);
            bytes[4 * p + 3] = 255;
        }
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, bitmap.GetPixels(), bytes.Length);
        return bitmap;
    }

    static byte ToByte(float v)
    {
        if (float.IsNaN(v)) return 0;
        var scaled = MathF.Round((v + 1) * 127.5f);
        return (byte)Math.Clamp(scaled, 0, 255);
    }

    /// <summary>Encodes one image [C, H, W] or a batch [B, C, H, W] (as a grid) to PNG or WebP bytes.</summary>
    /// <param name="columns">Grid columns for a batch; 0 picks a near-square grid.</param>
    /// <param name="scale">Nearest-neighbour enlargement, so 32-pixel images are visible.</param>
    public static byte[] Encode(Tensor images, ImageFormat format = ImageFormat.Png, int columns = 0, int scale = 1, int quality = 90)
    {
        using var scope = NewDisposeScope();
        var single = images.dim() == 4 ? Grid(images, columns) : images;
        using var bitmap = ToBitmap(single);
        using var enlarged = scale > 1 ? Enlarge(bitmap, scale) : null;
        using var image = SKImage.FromBitmap(enlarged ?? bitmap);
        using var data = image.Encode(format == ImageFormat.Png ? SKEncodedImageFormat.Png : SKEncodedImageFormat.Webp, quality)
                         ?? throw new InvalidOperationException($"Skia could not encode {format}");
        return data.ToArray();
    }

    /// <summary>Writes an image or a grid of a batch; the format follows the file extension (.png or .webp).</summary>
    public static void WriteFile(string path, Tensor images, int columns = 0, int scale = 1)
    {
        var format = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => ImageFormat.Png,
            ".webp" => ImageFormat.WebP,
            var other => throw new ArgumentException($"{path}: cannot write '{other}' files (use .png or .webp)", nameof(path)),
        };
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
        File.WriteAllBytes(path, Encode(images, format, columns, scale));
    }

    /// <summary>Tiles a batch [B, C, H, W] into one image [C, rows·(H+1)−1, cols·(W+1)−1] with 1-pixel white gutters.</summary>
    public static Tensor Grid(Tensor batch, int columns = 0)
    {
        if (batch.dim() != 4) throw new ArgumentException($"expected a batch [B, C, H, W], got shape [{string.Join(", ", batch.shape)}]", nameof(batch));
        long b = batch.shape[0], c = batch.shape[1], h = batch.shape[2], w = batch.shape[3];
        int cols = columns > 0 ? columns : (int)Math.Ceiling(Math.Sqrt(b));
        int rows = (int)((b + cols - 1) / cols);
        using var scope = NewDisposeScope();
        var grid = ones(c, rows * (h + 1) - 1, cols * (w + 1) - 1, dtype: float32);
        using var source = batch.detach().to(float32).cpu();
        for (int i = 0; i < b; i++)
        {
            long top = (i / cols) * (h + 1), left = (i % cols) * (w + 1);
            grid[TensorIndex.Colon, TensorIndex.Slice(top, top + h), TensorIndex.Slice(left, left + w)] = source[i];
        }
        return grid.MoveToOuterDisposeScope();
    }

    static SKBitmap Enlarge(SKBitmap bitmap, int scale)
    {
        var result = new SKBitmap(new SKImageInfo(bitmap.Width * scale, bitmap.Height * scale, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        using var canvas = new SKCanvas(result);
        using var image = SKImage.FromBitmap(bitmap);
        canvas.DrawImage(image, SKRect.Create(0, 0, result.Width, result.Height), new SKSamplingOptions(SKFilterMode.Nearest));
        return result;
    }
}
