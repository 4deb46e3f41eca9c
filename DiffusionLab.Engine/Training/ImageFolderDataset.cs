using DiffusionLab.Engine.Imaging;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// Every image of a folder, decoded once into one tensor [N, C, S, S] in [-1, 1]. The sets here
/// are small (a few thousand 32×32 images, ~40 MB as float32), so holding them in memory makes
/// a batch a single index_select.
/// </summary>
public sealed class ImageFolderDataset : IDisposable
{
    public ImageFolderDataset(Tensor images, string folder)
    {
        Images = images;
        Folder = folder;
    }

    public Tensor Images { get; }
    public string Folder { get; }
    public long Count => Images.shape[0];

    public static ImageFolderDataset Load(string folder, int size, int channels = 3, int limit = int.MaxValue)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder of training images");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".png" or ".jpg" or ".jpeg" or ".webp")
            .OrderBy(f => f, StringComparer.Ordinal).Take(limit).ToList();
        if (files.Count == 0) throw new InvalidDataException($"{folder}: holds no PNG, JPEG or WebP images");
        var images = new Tensor[files.Count];
        try
        {
            for (int i = 0; i < files.Count; i++) images[i] = ImageCodec.Decode(files[i], size, channels);
            return new ImageFolderDataset(stack(images), folder);
        }
        finally
        {
            foreach (var image in images) image?.Dispose();
        }
    }

    /// <summary>A random batch (with replacement) drawn with <paramref name="generator"/>; horizontally mirrored at random when asked.</summary>
    public Tensor Batch(int size, Generator generator, bool mirror)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, Count, [size], dtype: int64, generator: generator);
        var batch = Images.index_select(0, index);
        if (mirror)
        {
            var flip = rand([size, 1, 1, 1], generator: generator).LessThan(0.5);
            batch = where(flip, batch.flip(3), batch);
        }
        return batch.MoveToOuterDisposeScope();
    }

    public void Dispose() => Images.Dispose();
}
