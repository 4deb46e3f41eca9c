using System.Globalization;

namespace DiffusionLab.Engine.Imaging;

/// <summary>Where a run's ground-truth image comes from.</summary>
public sealed record ImageReference(ImageSource Source, string Name)
{
    public override string ToString() => $"{Source.ToString().ToLowerInvariant()}:{Name}";

    /// <summary>Returns a plain-words problem, or null with the parsed reference.</summary>
    public static string? TryParse(string text, out ImageReference? reference)
    {
        reference = null;
        var colon = text.IndexOf(':');
        if (colon <= 0) return "Choose an image: a gallery image, an upload, or a sample of the prior.";
        var kind = text[..colon];
        var name = text[(colon + 1)..];
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            return $"The image name '{name}' is not valid (letters, digits, '-' and '_' only).";
        ImageSource? source = kind switch { "gallery" => ImageSource.Gallery, "sample" => ImageSource.Sample, "upload" => ImageSource.Upload, _ => null };
        if (source is null) return $"Images come from the gallery, an upload or a sample of the prior, not '{kind}'.";
        if (source == ImageSource.Sample && !int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
            return "A prior sample is named by a number, e.g. sample:3.";
        reference = new(source.Value, name);
        return null;
    }
}

public enum ImageSource { Gallery, Sample, Upload }
