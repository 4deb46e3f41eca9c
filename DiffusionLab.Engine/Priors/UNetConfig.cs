using System.Text.Json.Serialization;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// The shape of a DDPM/ADM-style UNet. Everything that decides a weight's name or shape is
/// here, so a model card that stores this record is enough to rebuild the network.
/// </summary>
/// <param name="ImageSize">Side of the square images in pixels.</param>
/// <param name="Channels">Image channels: 3 for colour, 1 for grey.</param>
/// <param name="BaseChannels">Feature channels at full resolution.</param>
/// <param name="ChannelMultipliers">One per resolution level; level i has BaseChannels × multiplier[i] channels and halves the resolution after it (except the last).</param>
/// <param name="ResBlocksPerLevel">Residual blocks per level on the way down (the way up has one more, as in DDPM).</param>
/// <param name="AttentionResolutions">Resolutions (in pixels) at which self-attention follows each residual block; the middle always has one.</param>
/// <param name="Dropout">Dropout inside residual blocks while training.</param>
/// <param name="NormGroups">GroupNorm groups; must divide every level's channel count.</param>
/// <param name="AttentionHeads">Heads of each self-attention layer.</param>
/// <param name="ClassNames">For a class-conditional network, its classes (class i is ClassNames[i]); null for an unconditional one.</param>
public sealed record UNetConfig(
    int ImageSize,
    int Channels,
    int BaseChannels,
    int[] ChannelMultipliers,
    int ResBlocksPerLevel,
    int[] AttentionResolutions,
    double Dropout = 0.0,
    int NormGroups = 8,
    int AttentionHeads = 1,
    string[]? ClassNames = null)
{
    /// <summary>The most classes a network may learn (each is one row of the class embedding).</summary>
    public const int MaxClasses = 1000;

    /// <summary>Classes the network is conditioned on; 0 for an unconditional network.</summary>
    [JsonIgnore]
    public int ClassCount => ClassNames?.Length ?? 0;

    /// <summary>The default prior for 32×32 colour images on this CPU: ~1.5 M parameters, attention at 8×8 only.</summary>
    public static UNetConfig Small32 => new(32, 3, 32, [1, 2, 2], 1, [8]);

    /// <summary>A network for tests: a few thousand parameters, still every kind of layer.</summary>
    public static UNetConfig Tiny(int imageSize = 8, int channels = 3) => new(imageSize, channels, 8, [1, 2], 1, [imageSize / 2], NormGroups: 4);

    [JsonIgnore]
    public int TimeEmbeddingChannels => 4 * BaseChannels;

    /// <summary>Every problem with this configuration, in words; empty when it can be built.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (ImageSize < 4) problems.Add($"image size must be at least 4 pixels, not {ImageSize}");
        if (Channels is not (1 or 3)) problems.Add($"channels must be 1 or 3, not {Channels}");
        if (BaseChannels < 1) problems.Add($"base channels must be positive, not {BaseChannels}");
        if (ChannelMultipliers is null || ChannelMultipliers.Length == 0) problems.Add("at least one channel multiplier is needed");
        else
        {
            if (ChannelMultipliers.Any(m => m < 1)) problems.Add("channel multipliers must be positive");
            if (ImageSize % (1 << (ChannelMultipliers.Length - 1)) != 0)
                problems.Add($"image size {ImageSize} cannot be halved {ChannelMultipliers.Length - 1} times");
            if (NormGroups < 1 || ChannelMultipliers.Any(m => BaseChannels * m % NormGroups != 0) || BaseChannels % NormGroups != 0)
                problems.Add($"norm groups ({NormGroups}) must divide every level's channel count");
            if (AttentionHeads < 1 || ChannelMultipliers.Any(m => BaseChannels * m % AttentionHeads != 0))
                problems.Add($"attention heads ({AttentionHeads}) must divide every level's channel count");
        }
        if (ResBlocksPerLevel < 1) problems.Add($"at least one residual block per level is needed, not {ResBlocksPerLevel}");
        if (Dropout is < 0 or >= 1) problems.Add($"dropout must lie in [0, 1), not {Dropout}");
        if (ClassNames is not null)
        {
            if (ClassNames.Length is 0 or > MaxClasses) problems.Add($"a class-conditional network needs 1 to {MaxClasses} classes, not {ClassNames.Length}");
            if (ClassNames.Any(string.IsNullOrWhiteSpace)) problems.Add("every class needs a name");
            else if (ClassNames.Distinct(StringComparer.Ordinal).Count() != ClassNames.Length) problems.Add("class names must differ");
        }
        return problems;
    }
}
