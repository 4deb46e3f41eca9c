using System.Text.Json.Serialization;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A diffusers <c>UNet2DModel</c>'s config.json (google/ddpm-cifar10-32, google/ddpm-celebahq-256 and their kin),
/// with the defaults the library gives absent keys. Only what decides a weight's name or shape, or the function
/// the network computes, is kept; <see cref="Problems"/> names whatever this engine does not build.
/// </summary>
public sealed record DiffusersUNetConfig
{
    [JsonPropertyName("_class_name")] public string? ClassName { get; init; }
    [JsonPropertyName("sample_size")] public int SampleSize { get; init; }
    [JsonPropertyName("in_channels")] public int InChannels { get; init; } = 3;
    [JsonPropertyName("out_channels")] public int OutChannels { get; init; } = 3;
    [JsonPropertyName("center_input_sample")] public bool CenterInputSample { get; init; }
    [JsonPropertyName("time_embedding_type")] public string TimeEmbeddingType { get; init; } = "positional";
    [JsonPropertyName("time_embedding_dim")] public int? TimeEmbeddingDim { get; init; }
    [JsonPropertyName("freq_shift")] public int FreqShift { get; init; }
    [JsonPropertyName("flip_sin_to_cos")] public bool FlipSinToCos { get; init; } = true;
    [JsonPropertyName("down_block_types")] public string[] DownBlockTypes { get; init; } = ["DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"];
    // Null means something here (no middle block; one head), so it is written out rather than left to the default.
    [JsonPropertyName("mid_block_type"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public string? MidBlockType { get; init; } = "UNetMidBlock2D";
    [JsonPropertyName("up_block_types")] public string[] UpBlockTypes { get; init; } = ["AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"];
    [JsonPropertyName("block_out_channels")] public int[] BlockOutChannels { get; init; } = [224, 448, 672, 896];
    [JsonPropertyName("layers_per_block")] public int LayersPerBlock { get; init; } = 2;
    [JsonPropertyName("mid_block_scale_factor")] public double MidBlockScaleFactor { get; init; } = 1;
    [JsonPropertyName("downsample_padding")] public int DownsamplePadding { get; init; } = 1;
    [JsonPropertyName("downsample_type")] public string DownsampleType { get; init; } = "conv";
    [JsonPropertyName("upsample_type")] public string UpsampleType { get; init; } = "conv";
    [JsonPropertyName("dropout")] public double Dropout { get; init; }
    [JsonPropertyName("act_fn")] public string ActFn { get; init; } = "silu";
    /// <summary>Channels per attention head; null means one head over all of a block's channels.</summary>
    [JsonPropertyName("attention_head_dim"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] public int? AttentionHeadDim { get; init; } = 8;
    [JsonPropertyName("norm_num_groups")] public int NormNumGroups { get; init; } = 32;
    [JsonPropertyName("attn_norm_num_groups")] public int? AttnNormNumGroups { get; init; }
    [JsonPropertyName("norm_eps")] public double NormEps { get; init; } = 1e-5;
    [JsonPropertyName("resnet_time_scale_shift")] public string ResnetTimeScaleShift { get; init; } = "default";
    [JsonPropertyName("add_attention")] public bool AddAttention { get; init; } = true;
    [JsonPropertyName("class_embed_type")] public string? ClassEmbedType { get; init; }
    [JsonPropertyName("num_class_embeds")] public int? NumClassEmbeds { get; init; }

    [JsonIgnore] public int TimeEmbeddingChannels => TimeEmbeddingDim ?? 4 * BlockOutChannels[0];

    /// <summary>Heads of an attention layer over <paramref name="channels"/> channels.</summary>
    public int Heads(int channels) => AttentionHeadDim is { } d ? channels / d : 1;

    /// <summary>Whether the middle block's attention normalises its input (diffusers: when its groups are set, or the time embedding is added).</summary>
    [JsonIgnore] public int? MidAttentionGroups => AttnNormNumGroups ?? (ResnetTimeScaleShift == "default" ? NormNumGroups : null);

    static readonly string[] DownTypes = ["DownBlock2D", "AttnDownBlock2D"], UpTypes = ["UpBlock2D", "AttnUpBlock2D"];

    /// <summary>Every problem with this configuration for this engine, in words; empty when it can be built.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (ClassName is not (null or "UNet2DModel")) problems.Add($"_class_name is {ClassName}: only UNet2DModel (an unconditional pixel-space UNet) is read here");
        if (SampleSize < 8) problems.Add($"sample_size must be at least 8, not {SampleSize}");
        if (InChannels is not (1 or 3)) problems.Add($"in_channels must be 1 or 3, not {InChannels}");
        if (OutChannels != InChannels) problems.Add($"out_channels ({OutChannels}) must equal in_channels ({InChannels}): a learned variance is not read from diffusers models");
        if (TimeEmbeddingType != "positional") problems.Add($"time_embedding_type {TimeEmbeddingType} is not built here (only positional)");
        if (ActFn is not ("silu" or "swish")) problems.Add($"act_fn {ActFn} is not built here (only silu)");
        if (ClassEmbedType is not null || NumClassEmbeds is not null) problems.Add("a class-conditional UNet2DModel is not read here (the solvers ask for unconditional ε)");
        if (ResnetTimeScaleShift is not ("default" or "scale_shift")) problems.Add($"resnet_time_scale_shift {ResnetTimeScaleShift} is not built here (default or scale_shift)");
        if (DownsampleType != "conv") problems.Add($"downsample_type {DownsampleType} is not built here (only conv)");
        if (UpsampleType != "conv") problems.Add($"upsample_type {UpsampleType} is not built here (only conv)");
        if (MidBlockType is not (null or "UNetMidBlock2D")) problems.Add($"mid_block_type {MidBlockType} is not built here (UNetMidBlock2D or none)");
        if (DownsamplePadding is not (0 or 1)) problems.Add($"downsample_padding must be 0 or 1, not {DownsamplePadding}");
        if (LayersPerBlock < 1) problems.Add($"layers_per_block must be at least 1, not {LayersPerBlock}");
        if (BlockOutChannels is not { Length: > 0 }) { problems.Add("block_out_channels is empty"); return problems; }
        if (DownBlockTypes.Length != BlockOutChannels.Length || UpBlockTypes.Length != BlockOutChannels.Length)
            problems.Add($"down_block_types ({DownBlockTypes.Length}), up_block_types ({UpBlockTypes.Length}) and block_out_channels ({BlockOutChannels.Length}) must have the same length");
        foreach (var type in DownBlockTypes.Where(t => !DownTypes.Contains(t)).Distinct()) problems.Add($"down block {type} is not built here (DownBlock2D or AttnDownBlock2D)");
        foreach (var type in UpBlockTypes.Where(t => !UpTypes.Contains(t)).Distinct()) problems.Add($"up block {type} is not built here (UpBlock2D or AttnUpBlock2D)");
        if (SampleSize % (1 << (BlockOutChannels.Length - 1)) != 0) problems.Add($"sample_size {SampleSize} cannot be halved {BlockOutChannels.Length - 1} times");
        if (NormNumGroups < 1 || BlockOutChannels.Any(c => c % NormNumGroups != 0)) problems.Add($"norm_num_groups ({NormNumGroups}) must divide every block's channels");
        if (AttentionHeadDim is { } dim && (dim < 1 || BlockOutChannels.Any(c => c % dim != 0))) problems.Add($"attention_head_dim ({dim}) must divide every block's channels");
        if (!(NormEps > 0)) problems.Add("norm_eps must be positive");
        if (!(MidBlockScaleFactor > 0)) problems.Add("mid_block_scale_factor must be positive");
        return problems;
    }
}
