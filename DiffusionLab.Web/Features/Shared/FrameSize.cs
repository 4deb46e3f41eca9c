namespace DiffusionLab.Web.Features.Shared;

/// <summary>How large a <see cref="FrameFigure"/> is: whole multiples of the priors' 32-pixel images, so each pixel stays a square block.</summary>
public enum FrameSize
{
    /// <summary>96 px: a diversity batch's samples, many side by side.</summary>
    Small,
    /// <summary>192 px: compare, diversity and replay figures.</summary>
    Medium,
    /// <summary>256 px: the watch page, read from the back of a room.</summary>
    Large,
}
