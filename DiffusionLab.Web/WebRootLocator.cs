namespace DiffusionLab.Web;

/// <summary>
/// The web root is <c>wwwroot-assets/</c> at the repository root, shared by every page and by
/// later front ends; a published app (the Dockerfile) names it with DIFFUSIONLAB_WEBROOT.
/// </summary>
public static class WebRootLocator
{
    public const string FolderName = "wwwroot-assets";
    public const string EnvironmentVariable = "DIFFUSIONLAB_WEBROOT";

    public static string Find()
    {
        var configured = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(configured)) return Path.GetFullPath(configured);
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                var candidate = Path.Combine(folder.FullName, FolderName);
                if (Directory.Exists(candidate)) return candidate;
            }
        }
        throw new DirectoryNotFoundException(
            $"Could not find the web root folder '{FolderName}' above {Directory.GetCurrentDirectory()}; set {EnvironmentVariable} to its path.");
    }
}
