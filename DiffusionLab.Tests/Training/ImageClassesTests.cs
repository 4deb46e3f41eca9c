using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Training;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Training;

public sealed class ImageClassesTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("diffusionlab-classes-").FullName;

    public void Dispose() => Directory.Delete(folder, recursive: true);

    string Write(string name, string text)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Classes_are_numbered_in_the_order_of_their_names()
    {
        var classes = ImageClasses.Read(Write("classes.tsv", "1f600\tSmileys & Emotion\n1f34e\tFood & Drink\n1f1e6-1f1ea\tFlags\n1f603\tSmileys & Emotion\n"));
        Assert.Equal(["Flags", "Food & Drink", "Smileys & Emotion"], classes.Names);
        Assert.Equal(4, classes.Count);
        Assert.Equal(2, classes.ClassOf("/any/where/1f600.png"));
        Assert.Equal(1, classes.ClassOf("1f34e.png"));
        Assert.Equal(0, classes.ClassOf("1f1e6-1f1ea.png"));
    }

    [Theory]
    [InlineData("1f600 Smileys\n", "line 1")]
    [InlineData("1f600\tSmileys\n1f600\tFlags\n", "listed twice")]
    [InlineData("1f600\t \n", "line 1")]
    [InlineData("\n", "lists no images")]
    public void A_malformed_list_is_refused_with_the_line_at_fault(string text, string expected)
    {
        var error = Assert.Throws<InvalidDataException>(() => ImageClasses.Read(Write("classes.tsv", text)));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void An_image_missing_from_the_list_is_named()
    {
        var classes = ImageClasses.Read(Write("classes.tsv", "a\tone\n"));
        var error = Assert.Throws<InvalidDataException>(() => classes.ClassOf("/data/train/b.png"));
        Assert.Contains("/data/train/b.png", error.Message);
    }

    [Fact]
    public void Each_batch_image_comes_with_its_own_class()
    {
        // Image i is a flat grey of level i; its class is i mod 3, so a batch's labels can be checked against its pixels.
        var images = Path.Combine(folder, "train");
        Directory.CreateDirectory(images);
        var lines = new List<string>();
        for (int i = 0; i < 12; i++)
        {
            using var scope = NewDisposeScope();
            ImageCodec.WriteFile(Path.Combine(images, $"img{i:D2}.png"), full(3, 4, 4, (float)(i * 20 / 255.0 * 2 - 1)));
            lines.Add($"img{i:D2}\tclass {i % 3}");
        }
        var classes = ImageClasses.Read(Write("classes.tsv", string.Join("\n", lines)));
        using var data = ImageFolderDataset.Load(images, 4, classes: classes);
        Assert.Equal(["class 0", "class 1", "class 2"], data.ClassNames);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (long)(i % 3)).ToArray(), data.Labels!.data<long>().ToArray());

        using var generator = new Generator(5);
        var (batch, labels) = data.LabelledBatch(32, generator, mirror: true);
        using (batch)
        using (labels)
        {
            var level = ((batch[TensorIndex.Colon, 0, 0, 0] + 1) / 2 * 255 / 20).round().to(int64).data<long>().ToArray();
            Assert.Equal(level.Select(i => i % 3).ToArray(), labels!.data<long>().ToArray());
        }
    }
}
