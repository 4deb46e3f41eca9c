using System.Text.Json.Serialization;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// Numbers the frame player writes that are not a step's, such as the metrics of a diversity
/// batch's mean. They carry a frame's wire names, so the player's one formatter serves both;
/// a value that is not finite travels as null (JSON has no NaN) and is shown as a dash.
/// </summary>
public sealed record FrameMetrics
{
    [JsonPropertyName("Psnr")] public double? Psnr { get; init; }
    [JsonPropertyName("Ssim")] public double? Ssim { get; init; }
    [JsonPropertyName("Residual")] public double? Residual { get; init; }
    [JsonPropertyName("ElapsedMs")] public double? ElapsedMs { get; init; }

    public static FrameMetrics Of(double psnr, double ssim, double residual, double elapsedMs) => new()
    {
        Psnr = Finite(psnr),
        Ssim = Finite(ssim),
        Residual = Finite(residual),
        ElapsedMs = Finite(elapsedMs),
    };

    static double? Finite(double value) => double.IsFinite(value) ? value : null;
}

/// <summary>What the player reports on joining a watched run: its title and status, or why it could not.</summary>
public sealed record WatchJoin(string? Title, string? Status, string? Error);
