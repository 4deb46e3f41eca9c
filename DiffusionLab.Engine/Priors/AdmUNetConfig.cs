using System.Globalization;
using System.Text.Json.Serialization;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// The flags of an ADM UNet (Dhariwal &amp; Nichol 2021, the network DPS, DiffPIR, DDRM and DAPS sample with),
/// under the names their training scripts and DPS's model configuration use. Together they decide every
/// weight's name and shape, so a card that stores this record can rebuild the network.
/// </summary>
/// <param name="ImageSize">Side of the square images in pixels.</param>
/// <param name="NumChannels">Feature channels at full resolution (model_channels).</param>
/// <param name="NumResBlocks">Residual blocks per level on the way down (one more on the way up).</param>
/// <param name="ChannelMult">Channel multiplier per level; empty means the authors' default for the image size.</param>
/// <param name="LearnSigma">Six output channels: ε, then a value in [−1, 1] per pixel that interpolates the log-variance.</param>
/// <param name="ClassCond">Conditioned on one of 1000 ImageNet classes (refused here: every solver asks for unconditional ε).</param>
/// <param name="AttentionResolutions">Resolutions in pixels at which attention follows each residual block (16 means 16×16).</param>
/// <param name="NumHeads">Attention heads, when <paramref name="NumHeadChannels"/> is −1.</param>
/// <param name="NumHeadChannels">Channels per head; when set (not −1) the head count is channels / this.</param>
/// <param name="NumHeadsUpsample">Heads on the way up; −1 means <paramref name="NumHeads"/>.</param>
/// <param name="UseScaleShiftNorm">The time embedding scales and shifts the second GroupNorm's output (FiLM) instead of being added.</param>
/// <param name="Dropout">Dropout inside residual blocks while training (off when sampling).</param>
/// <param name="ResblockUpdown">Down- and upsample with residual blocks instead of plain convolutions.</param>
/// <param name="UseFp16">Trained with a float16 torso; the weights are read as float32 here all the same.</param>
/// <param name="UseNewAttentionOrder">Split q, k, v before the heads rather than after (the weights' meaning differs, not their shapes).</param>
/// <param name="InChannels">Image channels (the authors' scripts always use 3).</param>
public sealed record AdmUNetConfig(
    int ImageSize,
    int NumChannels,
    int NumResBlocks,
    double[] ChannelMult,
    bool LearnSigma,
    bool ClassCond,
    int[] AttentionResolutions,
    int NumHeads = 1,
    int NumHeadChannels = -1,
    int NumHeadsUpsample = -1,
    bool UseScaleShiftNorm = false,
    double Dropout = 0,
    bool ResblockUpdown = false,
    bool UseFp16 = false,
    bool UseNewAttentionOrder = false,
    int InChannels = 3)
{
    /// <summary>ADM normalises with GroupNorm of 32 groups everywhere.</summary>
    public const int NormGroups = 32;

    /// <summary>DPS's configs/model_config.yaml for ffhq_10m.pt (FFHQ 256×256, ~93 M parameters).</summary>
    public static AdmUNetConfig Ffhq256 => new(256, 128, 1, [], LearnSigma: true, ClassCond: false, AttentionResolutions: [16],
        NumHeads: 4, NumHeadChannels: 64, UseScaleShiftNorm: true, ResblockUpdown: true);

    /// <summary>The multipliers in use: the given ones, or the authors' defaults for 64, 128, 256 and 512 pixels.</summary>
    [JsonIgnore]
    public double[] Multipliers => ChannelMult is { Length: > 0 } ? ChannelMult : ImageSize switch
    {
        512 => [0.5, 1, 1, 2, 2, 4, 4],
        256 => [1, 1, 2, 2, 4, 4],
        128 => [1, 1, 2, 3, 4],
        64 => [1, 2, 3, 4],
        _ => [],
    };

    [JsonIgnore]
    public int OutChannels => LearnSigma ? 2 * InChannels : InChannels;

    [JsonIgnore]
    public int TimeEmbeddingChannels => 4 * NumChannels;

    /// <summary>Channels at a level.</summary>
    public int LevelChannels(int level) => (int)(Multipliers[level] * NumChannels);

    /// <summary>Downsampling factors at which attention is used (image size / resolution).</summary>
    [JsonIgnore]
    public int[] AttentionFactors => AttentionResolutions.Where(r => r > 0).Select(r => ImageSize / r).ToArray();

    /// <summary>Heads of an attention layer over <paramref name="channels"/> channels.</summary>
    public int Heads(int channels, bool upsampling) =>
        NumHeadChannels != -1 ? channels / NumHeadChannels : upsampling && NumHeadsUpsample != -1 ? NumHeadsUpsample : NumHeads;

    /// <summary>Every problem with these flags, in words; empty when the network can be built.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (ImageSize < 8) problems.Add($"image_size must be at least 8, not {ImageSize}");
        if (InChannels is not (1 or 3)) problems.Add($"in_channels must be 1 or 3, not {InChannels}");
        if (NumChannels < 1) problems.Add($"num_channels must be positive, not {NumChannels}");
        if (NumResBlocks < 1) problems.Add($"num_res_blocks must be at least 1, not {NumResBlocks}");
        if (ClassCond) problems.Add("class_cond is true: a class-conditional ADM network needs a class for every prediction, and the lab's solvers ask for unconditional ε (use an unconditional checkpoint such as 256x256_diffusion_uncond.pt)");
        var multipliers = Multipliers;
        if (multipliers.Length == 0) problems.Add($"channel_mult is empty and there is no default for image_size {ImageSize} (the authors' scripts have them for 64, 128, 256 and 512)");
        else
        {
            if (multipliers.Any(m => !(m > 0))) problems.Add("every channel_mult must be positive");
            if (ImageSize % (1 << (multipliers.Length - 1)) != 0) problems.Add($"image_size {ImageSize} cannot be halved {multipliers.Length - 1} times");
            var channels = Enumerable.Range(0, multipliers.Length).Select(LevelChannels).ToArray();
            if (channels.Any(c => c % NormGroups != 0)) problems.Add($"every level's channels ({string.Join(", ", channels)}) must be a multiple of {NormGroups}, ADM's GroupNorm groups");
            if (NumHeadChannels != -1 && (NumHeadChannels < 1 || channels.Any(c => c % NumHeadChannels != 0)))
                problems.Add($"num_head_channels ({NumHeadChannels}) must divide every level's channels ({string.Join(", ", channels)})");
            if (NumHeadChannels == -1 && (NumHeads < 1 || channels.Any(c => c % NumHeads != 0)))
                problems.Add($"num_heads ({NumHeads}) must divide every level's channels");
            if (NumHeadChannels == -1 && NumHeadsUpsample != -1 && (NumHeadsUpsample < 1 || channels.Any(c => c % NumHeadsUpsample != 0)))
                problems.Add($"num_heads_upsample ({NumHeadsUpsample}) must divide every level's channels");
        }
        if (AttentionResolutions is null) problems.Add("attention_resolutions is missing");
        else if (AttentionResolutions.Any(r => r < 1 || ImageSize % r != 0))
            problems.Add($"attention_resolutions ({string.Join(",", AttentionResolutions)}) must divide image_size {ImageSize}");
        if (Dropout is < 0 or >= 1) problems.Add($"dropout must lie in [0, 1), not {Dropout}");
        return problems;
    }

    /// <summary>The flags as text, for a card's notes and the import's report.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"image_size {ImageSize}, num_channels {NumChannels}, num_res_blocks {NumResBlocks}, channel_mult {string.Join(",", Multipliers)}, " +
        $"attention_resolutions {string.Join(",", AttentionResolutions)}, num_heads {NumHeads}, num_head_channels {NumHeadChannels}, " +
        $"learn_sigma {LearnSigma}, use_scale_shift_norm {UseScaleShiftNorm}, resblock_updown {ResblockUpdown}, use_new_attention_order {UseNewAttentionOrder}, use_fp16 {UseFp16}");
}
