namespace DiffusionLab.Engine;

/// <summary>
/// Finds the folders the engine reads at run time (models/, wwwroot-assets/gallery/): next to
/// the executable when published, otherwise in the repository the program was built from.
/// </summary>
public static class ContentRoot
{
    /// <summary>The nearest folder at or above <paramref name="start"/> (default: the executable's folder) that holds <c>models/</c>, or the start folder.</summary>
    public static string Find(string? start = null)
    {
        var origin = start ?? AppContext.BaseDirectory;
        for (var dir = new DirectoryInfo(origin); dir is not null; dir = dir.Parent)
            if (Directory.Exists(Path.Combine(dir.FullName, "models")) || File.Exists(Path.Combine(dir.FullName, "DiffusionLab.sln")))
                return dir.FullName;
        return origin;
    }

    public static string Models(string root) => Path.Combine(root, "models");

    public static string Gallery(string root) => Path.Combine(root, "wwwroot-assets", "gallery");
}
