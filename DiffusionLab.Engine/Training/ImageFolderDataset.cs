using DiffusionLab.Engine.Imaging;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// Every image of a folder, decoded once into one tensor [N, C, S, S] in [-1, 1]. The sets here
/// are small (a few thousand 32×32 images, ~40 MB as float32), so holding them in memory makes
/// a batch a single index_select. With a class list each image also has its class number.
/// </summary>
public sealed class ImageFolderDataset : IDisposable
{
    public ImageFolderDataset(Tensor images, string folder, Tensor? labels = null, IReadOnlyList<string>? classNames = null)
    {
        if (labels is not null && (labels.dim() != 1 || labels.shape[0] != images.shape[0]))
            throw new ArgumentException($"one label per image is needed: {images.shape[0]} images, labels of shape [{string.Join(", ", labels.shape)}]", nameof(labels));
        Images = images;
        Folder = folder;
        Labels = labels;
        ClassNames = classNames ?? [];
    }

    public Tensor Images { get; }
    public string Folder { get; }
    public long Count => Images.shape[0];

    /// <summary>int64 [N], each image's class number; null when the set has no class list.</summary>
    public Tensor? Labels { get; }

    /// <summary>The names of the class numbers (empty without a class list).</summary>
    public IReadOnlyList<string> ClassNames { get; }

    public static ImageFolderDataset Load(string folder, int size, int channels = 3, int limit = int.MaxValue, ImageClasses? classes = null)
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
            var labels = classes is null ? null : tensor(files.Select(f => (long)classes.ClassOf(f)).ToArray());
            return new ImageFolderDataset(stack(images), folder, labels, classes?.Names);
        }
        finally
        {
            foreach (var image in images) image?.Dispose();
        }
    }

    /// <summary>A random batch (with replacement) drawn with <paramref name="generator"/>; horizontally mirrored at random when asked.</summary>
    public Tensor Batch(int size, Generator generator, bool mirror)
    {
        var (images, labels) = LabelledBatch(size, generator, mirror);
        labels?.Dispose();
        return images;
    }

    /// <summary>Like <see cref="Batch"/> (the same draws), with the class numbers of the images drawn; null without a class list.</summary>
    public (Tensor Images, Tensor? Labels) LabelledBatch(int size, Generator generator, bool mirror)
    {
        using var scope = NewDisposeScope();
        var index = randint(0, Count, [size], dtype: int64, generator: generator);
        var batch = Images.index_select(0, index);
        if (mirror)
        {
            var flip = rand([size, 1, 1, 1], generator: generator).LessThan(0.5);
            batch = where(flip, batch.flip(3), batch);
        }
        return (batch.MoveToOuterDisposeScope(), Labels?.index_select(0, index).MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels?.Dispose();
    }
}
