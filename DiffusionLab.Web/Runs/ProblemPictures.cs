using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// The pictures and numbers of a problem before any solver runs, encoded once: x0, y as a picture
/// (a spectrum where y is one), and the yardstick a solver has to beat — the estimate from y
/// alone, named, with its PSNR and SSIM (no estimate, and NaN, where the operator has none).
/// </summary>
public sealed record ProblemPictures(byte[] GroundTruthPng, byte[] MeasurementPng, byte[]? NaivePng, string NaiveName, double NaivePsnr, double NaiveSsim)
{
    public static ProblemPictures From(PreparedRun prepared) => new(
        FrameEncoder.Encode(prepared.GroundTruth),
        FrameEncoder.Encode(prepared.MeasurementPicture),
        prepared.Naive is { } naive ? FrameEncoder.Encode(naive.Estimate) : null,
        prepared.Naive?.Name ?? prepared.Measurement.NaiveEstimateName,
        prepared.Naive?.Psnr ?? double.NaN,
        prepared.Naive?.Ssim ?? double.NaN);
}
