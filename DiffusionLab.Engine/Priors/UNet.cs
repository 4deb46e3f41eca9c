using DiffusionLab.Engine.Diffusion;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// The DDPM / ADM UNet (Ho et al. 2020; Dhariwal &amp; Nichol 2021) that predicts the noise ε
/// in x_t: residual blocks with GroupNorm + SiLU and a sinusoidal time embedding added to
/// every block, self-attention at chosen resolutions, skip connections from each block
/// on the way down to one on the way up. A class-conditional network (Config.ClassNames) adds a
/// learned class embedding to the time embedding, as ADM does; its extra last row stands for
/// "no class", which is what <see cref="PredictNoise(Tensor, Tensor)"/> (every solver) uses, so the
/// same network is also the unconditional prior classifier-free guidance needs (Ho &amp; Salimans 2022).
/// </summary>
public sealed class UNet : Module<Tensor, Tensor, Tensor>, IDenoiser
{
    readonly Linear time_in, time_out;
    readonly Conv2d conv_in;
    readonly ModuleList<UNetBlock> down, up;
    readonly UNetBlock middle;
    readonly GroupNorm norm_out;
    readonly Conv2d conv_out;
    readonly Embedding? class_embedding;

    public UNet(UNetConfig config, NoiseSchedule schedule, string name = "unet") : base(nameof(UNet))
    {
        var problems = config.Problems();
        if (problems.Count > 0) throw new ArgumentException("invalid UNet configuration: " + string.Join("; ", problems), nameof(config));
        Config = config;
        Schedule = schedule;
        Name = name;

        int b = config.BaseChannels, embedding = config.TimeEmbeddingChannels, groups = config.NormGroups;
        time_in = Linear(b, embedding);
        time_out = Linear(embedding, embedding);
        conv_in = Conv2d(config.Channels, b, 3, padding: 1);
        if (config.ClassCount > 0) class_embedding = Embedding(config.ClassCount + 1, embedding);

        // Down: each block records the channels it hands to the matching up block.
        var downBlocks = new List<UNetBlock>();
        var skipChannels = new Stack<int>();
        skipChannels.Push(b);
        int channels = b, resolution = config.ImageSize, levels = config.ChannelMultipliers.Length;
        for (int level = 0; level < levels; level++)
        {
            int outChannels = b * config.ChannelMultipliers[level];
            for (int i = 0; i < config.ResBlocksPerLevel; i++)
            {
                downBlocks.Add(UNetBlock.Residual(channels, outChannels, embedding, groups, config.Dropout,
                    config.AttentionResolutions.Contains(resolution) ? config.AttentionHeads : 0));
                channels = outChannels;
                skipChannels.Push(channels);
            }
            if (level < levels - 1)
            {
                downBlocks.Add(UNetBlock.Downsample(channels));
                resolution /= 2;
                skipChannels.Push(channels);
            }
        }
        down = new ModuleList<UNetBlock>(downBlocks.ToArray());
        middle = UNetBlock.Middle(channels, embedding, groups, config.Dropout, config.AttentionHeads);

        var upBlocks = new List<UNetBlock>();
        for (int level = levels - 1; level >= 0; level--)
        {
            int outChannels = b * config.ChannelMultipliers[level];
            for (int i = 0; i < config.ResBlocksPerLevel + 1; i++)
            {
                var block = UNetBlock.Residual(channels + skipChannels.Pop(), outChannels, embedding, groups, config.Dropout,
                    config.AttentionResolutions.Contains(resolution) ? config.AttentionHeads : 0);
                channels = outChannels;
                if (level > 0 && i == config.ResBlocksPerLevel)
                {
                    block = block.ThenUpsample(channels);
                    resolution *= 2;
                }
                upBlocks.Add(block);
            }
        }
        up = new ModuleList<UNetBlock>(upBlocks.ToArray());
        norm_out = GroupNormStartingAsIdentity(groups, channels);
        conv_out = Conv2d(channels, config.Channels, 3, padding: 1);
        RegisterComponents();
        // ADM starts the output layer at zero so the untrained network predicts ε = 0. The class
        // embedding starts at zero too: classes added to a trained network leave its function as it was.
        using (no_grad())
        {
            init.zeros_(conv_out.weight);
            init.zeros_(conv_out.bias);
            if (class_embedding is not null) init.zeros_(class_embedding.weight);
        }
    }

    public UNetConfig Config { get; }
    public string Name { get; }
    public NoiseSchedule Schedule { get; }
    public long[] SampleShape => [Config.Channels, Config.ImageSize, Config.ImageSize];
    public Device Device => conv_in.weight!.device;

    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>ε(x_t, t) with no class: the unconditional prediction, for a class-conditional network too.</summary>
    public Tensor PredictNoise(Tensor xt, Tensor t) => forward(xt, t);

    /// <summary>ε(x_t, t, c): <paramref name="classes"/> is int64 [B], each sample's class number, or
    /// <see cref="UNetConfig.ClassCount"/> for "no class".</summary>
    public Tensor PredictNoise(Tensor xt, Tensor t, Tensor classes)
    {
        if (class_embedding is null) throw new ArgumentException($"{Name} is not class-conditional", nameof(classes));
        if (classes.dim() != 1 || classes.shape[0] != xt.shape[0])
            throw new ArgumentException($"one class per sample is needed: {xt.shape[0]} samples, classes of shape [{string.Join(", ", classes.shape)}]", nameof(classes));
        return Forward(xt, t, classes);
    }

    public override Tensor forward(Tensor x, Tensor t) => Forward(x, t, null);

    Tensor Forward(Tensor x, Tensor t, Tensor? classes)
    {
        RequireImages(x, Config.Channels, Config.ImageSize, "the UNet");
        using var scope = NewDisposeScope();
        var embedding = time_out.call(functional.silu(time_in.call(TimestepEmbedding(t, Config.BaseChannels).to(x.device))));
        if (class_embedding is not null)
            embedding = embedding.Plus(class_embedding.call(classes ?? ScalarArithmetic.Full([x.shape[0]], (long)Config.ClassCount, int64, x.device)));
        var h = conv_in.call(x);
        var skips = new Stack<Tensor>();
        skips.Push(h);
        foreach (var block in down)
        {
            h = block.call(h, embedding);
            skips.Push(h);
        }
        h = middle.call(h, embedding);
        foreach (var block in up)
            h = block.call(cat([h, skips.Pop()], 1), embedding);
        h = conv_out.call(functional.silu(norm_out.call(h)));
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Refuses, in words, a batch that is not [B, channels, size, size].</summary>
    internal static void RequireImages(Tensor x, int channels, int size, string network)
    {
        if (x.dim() != 4 || x.shape[1] != channels || x.shape[2] != size || x.shape[3] != size)
            throw new ArgumentException($"{network} takes [B, {channels}, {size}, {size}], got [{string.Join(", ", x.shape)}]", nameof(x));
    }

    /// <summary>
    /// A residual block's time conditioning after its first convolution: the projected embedding added before the second norm,
    /// or (scale-shift, FiLM) the second norm's output times 1 + scale plus shift, the projection holding both halves.
    /// </summary>
    internal static Tensor ConditionOnTime(Tensor h, Tensor projected, GroupNorm norm, bool scaleShift)
    {
        if (!scaleShift) return norm.call(h.Plus(projected));
        var parts = projected.chunk(2, 1);
        return norm.call(h).mul(parts[0].Plus(1)).Plus(parts[1]);
    }

    /// <summary>The transformer's sinusoidal embedding of integer timesteps, [B] → [B, dim].</summary>
    public static Tensor TimestepEmbedding(Tensor t, int dim)
    {
        using var scope = NewDisposeScope();
        int half = dim / 2;
        using var halfScalar = half.ToScalar();
        var frequencies = exp(arange(halfScalar, dtype: float32).Times(-Math.Log(10000.0) / half));
        var angles = t.to(float32).cpu().unsqueeze(1) * frequencies.unsqueeze(0);
        var embedding = cat([cos(angles), sin(angles)], 1);
        if (dim % 2 == 1) embedding = functional.pad(embedding, [0, 1]);
        return embedding.MoveToOuterDisposeScope();
    }

    /// <summary>TorchSharp 0.107 leaves GroupNorm's affine parameters uninitialised (docs/torchsharp.md §2).</summary>
    internal static GroupNorm GroupNormStartingAsIdentity(int groups, int channels, double eps = 1e-5)
    {
        var norm = GroupNorm(groups, channels, eps);
        using (no_grad())
        {
            init.ones_(norm.weight);
            init.zeros_(norm.bias);
        }
        return norm;
    }
}

/// <summary>One step of the UNet: a residual block (optionally with attention and an upsampling), a downsampling, or the middle.</summary>
public sealed class UNetBlock : Module<Tensor, Tensor, Tensor>
{
    // Field names become the weights' names in checkpoints: keep them stable.
    readonly ResidualBlock? res;
    readonly SelfAttention? attn;
    readonly ResidualBlock? res2;
    readonly Conv2d? downsample;
    readonly Conv2d? upsample;

    UNetBlock(ResidualBlock? res, SelfAttention? attn, ResidualBlock? res2, Conv2d? downsample, Conv2d? upsample) : base(nameof(UNetBlock))
    {
        this.res = res;
        this.attn = attn;
        this.res2 = res2;
        this.downsample = downsample;
        this.upsample = upsample;
        RegisterComponents();
    }

    public static UNetBlock Residual(int inChannels, int outChannels, int embedding, int groups, double dropout, int attentionHeads) =>
        new(new ResidualBlock(inChannels, outChannels, embedding, groups, dropout),
            attentionHeads > 0 ? new SelfAttention(outChannels, groups, attentionHeads) : null, null, null, null);

    public static UNetBlock Downsample(int channels) => new(null, null, null, Conv2d(channels, channels, 3, stride: 2, padding: 1), null);

    public static UNetBlock Middle(int channels, int embedding, int groups, double dropout, int heads) =>
        new(new ResidualBlock(channels, channels, embedding, groups, dropout), new SelfAttention(channels, groups, heads),
            new ResidualBlock(channels, channels, embedding, groups, dropout), null, null);

    public UNetBlock ThenUpsample(int channels)
    {
        var result = new UNetBlock(res, attn, res2, downsample, Conv2d(channels, channels, 3, padding: 1));
        return result;
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = x;
        if (downsample is not null) h = downsample.call(h);
        if (res is not null) h = res.call(h, embedding);
        if (attn is not null) h = attn.call(h);
        if (res2 is not null) h = res2.call(h, embedding);
        if (upsample is not null)
            h = upsample.call(functional.interpolate(h, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest));
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>GroupNorm → SiLU → conv, plus the time embedding, → GroupNorm → SiLU → dropout → conv, added to a (projected) skip.</summary>
public sealed class ResidualBlock : Module<Tensor, Tensor, Tensor>
{
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Linear time;
    readonly Dropout dropout;
    readonly Conv2d? skip;

    public ResidualBlock(int inChannels, int outChannels, int embedding, int groups, double dropoutRate) : base(nameof(ResidualBlock))
    {
        norm1 = UNet.GroupNormStartingAsIdentity(ChooseGroups(groups, inChannels), inChannels);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1);
        time = Linear(embedding, outChannels);
        norm2 = UNet.GroupNormStartingAsIdentity(groups, outChannels);
        dropout = Dropout(dropoutRate);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1);
        skip = inChannels == outChannels ? null : Conv2d(inChannels, outChannels, 1);
        RegisterComponents();
        // Each block starts as the identity (ADM's zero_module on the last conv): deep stacks train from the first step.
        using (no_grad())
        {
            init.zeros_(conv2.weight);
            init.zeros_(conv2.bias);
        }
    }

    /// <summary>Concatenated skip inputs can have channel counts the configured group count does not divide; fall back to the largest divisor.</summary>
    static int ChooseGroups(int groups, int channels)
    {
        for (int g = groups; g > 1; g--)
            if (channels % g == 0) return g;
        return 1;
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(functional.silu(norm1.call(x)));
        h = h.Plus(time.call(functional.silu(embedding)).unsqueeze(-1).unsqueeze(-1));
        h = conv2.call(dropout.call(functional.silu(norm2.call(h))));
        var shortcut = skip is null ? x : skip.call(x);
        return shortcut.Plus(h).MoveToOuterDisposeScope();
    }
}

/// <summary>Multi-head self-attention over the pixels of a feature map, with a residual connection.</summary>
public sealed class SelfAttention : Module<Tensor, Tensor>
{
    readonly GroupNorm norm;
    readonly Conv2d qkv, proj;
    readonly int heads;

    public SelfAttention(int channels, int groups, int heads) : base(nameof(SelfAttention))
    {
        this.heads = heads;
        norm = UNet.GroupNormStartingAsIdentity(groups, channels);
        qkv = Conv2d(channels, 3 * channels, 1);
        proj = Conv2d(channels, channels, 1);
        RegisterComponents();
        using (no_grad())
        {
            init.zeros_(proj.weight);
            init.zeros_(proj.bias);
        }
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        long headChannels = c / heads;
        var q_k_v = qkv.call(norm.call(x)).reshape(b * heads, 3 * headChannels, h * w).chunk(3, 1);
        Tensor q = q_k_v[0], k = q_k_v[1], v = q_k_v[2];
        var weights = softmax(matmul(q.transpose(1, 2), k).DividedBy(Math.Sqrt(headChannels)), -1); // [B·heads, HW, HW]
        var attended = matmul(v, weights.transpose(1, 2)).reshape(b, c, h, w);
        return x.Plus(proj.call(attended)).MoveToOuterDisposeScope();
    }
}
