namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// How large a <see cref="FrameFigure"/> is on screen, whatever the prior's image side: whole multiples of 32 pixels, so a
/// 32- or 64-pixel image's pixels stay square blocks; a larger image is scaled down smoothly to fit.
/// </summary>
public enum FrameSize
{
    /// <summary>96 px: a diversity batch's samples, many side by side.</summary>
    Small,
    /// <summary>192 px: compare, diversity and replay figures.</summary>
    Medium,
    /// <summary>256 px: the watch page, read from the back of a room.</summary>
    Large,
}
