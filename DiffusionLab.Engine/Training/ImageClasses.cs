namespace DiffusionLab.Engine.Training;

/// <summary>
/// The class of every image of a data set, read from <c>classes.tsv</c> beside its <c>train/</c> and
/// <c>heldout/</c> folders: one line per image, its file name without extension, a tab, its class
/// (for the emoji, emoji-datasource's category). Classes are numbered in ordinal order of their names,
/// so the same file always gives the same numbers.
/// </summary>
public sealed class ImageClasses
{
    public const string FileName = "classes.tsv";

    readonly Dictionary<string, int> classOfStem;

    ImageClasses(IReadOnlyList<string> names, Dictionary<string, int> classOfStem)
    {
        Names = names;
        this.classOfStem = classOfStem;
    }

    /// <summary>The class names; a class's number is its index here.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Images listed.</summary>
    public int Count => classOfStem.Count;

    public static ImageClasses Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no class list (tools/fetch-data.sh writes it for the emoji)", path);
        var stems = new Dictionary<string, string>(StringComparer.Ordinal);
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            var fields = line.Split('\t');
            if (fields.Length != 2 || fields[0].Length == 0 || fields[1].Trim().Length == 0)
                throw new InvalidDataException($"{path}, line {lineNumber}: expected 'file name<TAB>class', got '{line}'");
            if (!stems.TryAdd(fields[0], fields[1].Trim()))
                throw new InvalidDataException($"{path}, line {lineNumber}: '{fields[0]}' is listed twice");
        }
        if (stems.Count == 0) throw new InvalidDataException($"{path}: lists no images");
        var names = stems.Values.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        var number = names.Select((name, i) => (name, i)).ToDictionary(p => p.name, p => p.i, StringComparer.Ordinal);
        return new ImageClasses(names, stems.ToDictionary(p => p.Key, p => number[p.Value], StringComparer.Ordinal));
    }

    /// <summary>The class list of a data set folder (the one holding train/ and heldout/), or null when it has none.</summary>
    public static ImageClasses? ReadIfPresent(string dataFolder)
    {
        var path = Path.Combine(dataFolder, FileName);
        return File.Exists(path) ? Read(path) : null;
    }

    /// <summary>The class number of an image file, by its name without extension.</summary>
    public int ClassOf(string imagePath)
    {
        var stem = Path.GetFileNameWithoutExtension(imagePath);
        return classOfStem.TryGetValue(stem, out var number)
            ? number
            : throw new InvalidDataException($"{imagePath}: not in the class list ({FileName}); run tools/fetch-data.sh again to rewrite it");
    }
}
