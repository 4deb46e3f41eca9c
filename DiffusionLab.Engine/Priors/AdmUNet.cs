using DiffusionLab.Engine.Diffusion;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Priors;

/// <summary>
/// A prior that also predicts, per pixel, where its reverse-step variance lies between the two
/// closed-form extremes (improved DDPM's learned Σ, Nichol &amp; Dhariwal 2021): v ∈ [−1, 1].
/// </summary>
public interface ILearnedVariance : IDenoiser
{
    /// <summary>Whether this prior has the variance output (a wrapper around a prior that lacks it says false).</summary>
    bool LearnsVariance { get; }

    /// <summary>ε(x_t, t) and the variance value v(x_t, t), both [B, ..SampleShape], from one network call.</summary>
    (Tensor Epsilon, Tensor VarianceValue) PredictNoiseAndVariance(Tensor xt, Tensor t);
}

/// <summary>
/// The ADM UNet (Dhariwal &amp; Nichol 2021) as openai's guided-diffusion builds it, so that its checkpoints
/// (DPS's ffhq_10m.pt, 256x256_diffusion_uncond.pt) load name by name: residual blocks with GroupNorm(32),
/// SiLU and the time embedding added or applied as scale and shift of the second norm; self-attention at
/// chosen resolutions with legacy or new q/k/v order; down- and upsampling by strided / nearest-neighbour
/// convolutions or by residual blocks; skips from every input block to an output block. With learned σ the
/// output has twice the image channels: ε first, then the variance value v.
/// </summary>
/// <remarks>
/// The module tree mirrors the checkpoint's key names: <c>time_embed.{0,2}</c>, <c>input_blocks.i.j</c>,
/// <c>middle_block.{0,1,2}</c>, <c>output_blocks.i.j</c>, <c>out.{0,2}</c>; inside a residual block
/// <c>in_layers.{0,2}</c>, <c>emb_layers.1</c>, <c>out_layers.{0,3}</c>, <c>skip_connection</c>; inside attention
/// <c>norm</c>, <c>qkv</c>, <c>proj_out</c> (1-D convolutions over the flattened pixels).
/// </remarks>
public sealed class AdmUNet : Module<Tensor, Tensor, Tensor>, ILearnedVariance
{
    readonly Sequential time_embed;
    readonly ModuleList<AdmStep> input_blocks, output_blocks;
    readonly AdmStep middle_block;
    readonly Sequential @out;
    readonly Linear timeIn, timeOut;
    readonly GroupNorm outNorm;
    readonly Conv2d outConv;

    public AdmUNet(AdmUNetConfig config, NoiseSchedule schedule, string name = "adm-unet") : base(nameof(AdmUNet))
    {
        var problems = config.Problems();
        if (problems.Count > 0) throw new ArgumentException("invalid ADM flags: " + string.Join("; ", problems), nameof(config));
        Config = config;
        Schedule = schedule;
        Name = name;

        int model = config.NumChannels, embedding = config.TimeEmbeddingChannels;
        timeIn = Linear(model, embedding);
        timeOut = Linear(embedding, embedding);
        time_embed = Sequential(("0", timeIn), ("1", SiLU()), ("2", timeOut));

        var attentionFactors = config.AttentionFactors;
        int levels = config.Multipliers.Length;
        int channels = config.LevelChannels(0), factor = 1;
        var inputs = new List<AdmStep> { new(Conv2d(config.InChannels, channels, 3, padding: 1)) };
        var skipChannels = new Stack<int>();
        skipChannels.Push(channels);
        for (int level = 0; level < levels; level++)
        {
            for (int i = 0; i < config.NumResBlocks; i++)
            {
                int outChannels = config.LevelChannels(level);
                var layers = new List<Module> { new AdmResBlock(channels, outChannels, embedding, config) };
                channels = outChannels;
                if (attentionFactors.Contains(factor)) layers.Add(new AdmAttention(channels, config.Heads(channels, upsampling: false), config.UseNewAttentionOrder));
                inputs.Add(new AdmStep([.. layers]));
                skipChannels.Push(channels);
            }
            if (level < levels - 1)
            {
                inputs.Add(new AdmStep(config.ResblockUpdown ? new AdmResBlock(channels, channels, embedding, config, AdmResample.Down) : new AdmDownsample(channels)));
                skipChannels.Push(channels);
                factor *= 2;
            }
        }
        input_blocks = new ModuleList<AdmStep>([.. inputs]);

        middle_block = new AdmStep(
            new AdmResBlock(channels, channels, embedding, config),
            new AdmAttention(channels, config.Heads(channels, upsampling: false), config.UseNewAttentionOrder),
            new AdmResBlock(channels, channels, embedding, config));

        var outputs = new List<AdmStep>();
        for (int level = levels - 1; level >= 0; level--)
        {
            for (int i = 0; i < config.NumResBlocks + 1; i++)
            {
                int outChannels = config.LevelChannels(level);
                var layers = new List<Module> { new AdmResBlock(channels + skipChannels.Pop(), outChannels, embedding, config) };
                channels = outChannels;
                if (attentionFactors.Contains(factor)) layers.Add(new AdmAttention(channels, config.Heads(channels, upsampling: true), config.UseNewAttentionOrder));
                if (level > 0 && i == config.NumResBlocks)
                {
                    layers.Add(config.ResblockUpdown ? new AdmResBlock(channels, channels, embedding, config, AdmResample.Up) : new AdmUpsample(channels));
                    factor /= 2;
                }
                outputs.Add(new AdmStep([.. layers]));
            }
        }
        output_blocks = new ModuleList<AdmStep>([.. outputs]);

        outNorm = AdmLayers.Norm(channels);
        outConv = Conv2d(config.LevelChannels(0), config.OutChannels, 3, padding: 1);
        @out = Sequential(("0", outNorm), ("1", SiLU()), ("2", outConv));

        register_module("time_embed", time_embed);
        register_module("input_blocks", input_blocks);
        register_module("middle_block", middle_block);
        register_module("output_blocks", output_blocks);
        register_module("out", @out);
    }

    public AdmUNetConfig Config { get; }
    public string Name { get; }
    public NoiseSchedule Schedule { get; }
    public long[] SampleShape => [Config.InChannels, Config.ImageSize, Config.ImageSize];
    public Device Device => outConv.weight!.device;
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The network's raw output, [B, OutChannels, H, W] (ε, then v when σ is learned).</summary>
    public override Tensor forward(Tensor x, Tensor t)
    {
        UNet.RequireImages(x, Config.InChannels, Config.ImageSize, "the ADM UNet");
        using var scope = NewDisposeScope();
        var embedding = time_embed.call(UNet.TimestepEmbedding(t, Config.NumChannels).to(x.device));
        var skips = new Stack<Tensor>();
        var h = x;
        foreach (var block in input_blocks)
        {
            h = block.call(h, embedding);
            skips.Push(h);
        }
        h = middle_block.call(h, embedding);
        foreach (var block in output_blocks)
            h = block.call(cat([h, skips.Pop()], 1), embedding);
        return @out.call(h).MoveToOuterDisposeScope();
    }

    /// <summary>ε: the whole output, or its first half when σ is learned.</summary>
    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        if (!Config.LearnSigma) return forward(xt, t);
        using var scope = NewDisposeScope();
        return forward(xt, t).narrow(1, 0, Config.InChannels).MoveToOuterDisposeScope();
    }

    public bool LearnsVariance => Config.LearnSigma;

    public (Tensor Epsilon, Tensor VarianceValue) PredictNoiseAndVariance(Tensor xt, Tensor t)
    {
        if (!Config.LearnSigma) throw new InvalidOperationException($"{Name} does not learn its variance (learn_sigma is false)");
        using var scope = NewDisposeScope();
        var output = forward(xt, t);
        var epsilon = output.narrow(1, 0, Config.InChannels).MoveToOuterDisposeScope();
        var value = output.narrow(1, Config.InChannels, Config.InChannels).MoveToOuterDisposeScope();
        return (epsilon, value);
    }
}

/// <summary>One input, middle or output block of the ADM UNet: its layers in order, named 0, 1, 2 as in the checkpoint;
/// residual blocks are given the time embedding, the others only the features.</summary>
public sealed class AdmStep : Module<Tensor, Tensor, Tensor>
{
    readonly Module[] layers;

    public AdmStep(params Module[] layers) : base(nameof(AdmStep))
    {
        this.layers = layers;
        for (int i = 0; i < layers.Length; i++) register_module(i.ToString(System.Globalization.CultureInfo.InvariantCulture), layers[i]);
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = x;
        foreach (var layer in layers)
        {
            h = layer switch
            {
                AdmResBlock block => block.call(h, embedding),
                Module<Tensor, Tensor> plain => plain.call(h),
                _ => throw new InvalidOperationException($"an ADM block cannot run a {layer.GetType().Name}"),
            };
        }
        return h.MoveToOuterDisposeScope();
    }
}

/// <summary>Whether a residual block also halves or doubles the resolution (ADM's resblock_updown).</summary>
public enum AdmResample { None, Down, Up }

/// <summary>
/// ADM's residual block: GroupNorm → SiLU → [resample] → conv; the time embedding added, or, with scale-shift
/// norm, GroupNorm(h)·(1 + scale) + shift; → SiLU → dropout → conv; plus the (resampled, projected) input.
/// </summary>
public sealed class AdmResBlock : Module<Tensor, Tensor, Tensor>
{
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Linear embeddingProjection;
    readonly Dropout dropout;
    readonly Conv2d? skip;
    readonly bool scaleShift;
    readonly AdmResample resample;

    public AdmResBlock(int inChannels, int outChannels, int embedding, AdmUNetConfig config, AdmResample resample = AdmResample.None) : base(nameof(AdmResBlock))
    {
        scaleShift = config.UseScaleShiftNorm;
        this.resample = resample;
        norm1 = AdmLayers.Norm(inChannels);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1);
        embeddingProjection = Linear(embedding, scaleShift ? 2 * outChannels : outChannels);
        norm2 = AdmLayers.Norm(outChannels);
        dropout = Dropout(config.Dropout);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1);
        register_module("in_layers", Sequential(("0", norm1), ("1", SiLU()), ("2", conv1)));
        register_module("emb_layers", Sequential(("0", SiLU()), ("1", embeddingProjection)));
        register_module("out_layers", Sequential(("0", norm2), ("1", SiLU()), ("2", dropout), ("3", conv2)));
        // ADM's skip is the identity when the channels match, else a 1×1 convolution.
        if (inChannels != outChannels)
        {
            skip = Conv2d(inChannels, outChannels, 1);
            register_module("skip_connection", skip);
        }
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = functional.silu(norm1.call(x));
        var input = x;
        if (resample != AdmResample.None)
        {
            h = AdmLayers.Resample(h, resample);
            input = AdmLayers.Resample(x, resample);
        }
        h = conv1.call(h);
        var projected = embeddingProjection.call(functional.silu(embedding)).unsqueeze(-1).unsqueeze(-1);
        h = UNet.ConditionOnTime(h, projected, norm2, scaleShift);
        h = conv2.call(dropout.call(functional.silu(h)));
        var shortcut = skip is null ? input : skip.call(input);
        return shortcut.Plus(h).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// ADM's self-attention over the pixels: GroupNorm, a 1-D convolution to q, k, v, scaled dot-product attention per
/// head (each of q and k scaled by ch^−¼, as the authors do for float16's sake), a 1-D output convolution, and the
/// input added back. The legacy order splits the heads first and q, k, v within each head; the new order the reverse.
/// </summary>
public sealed class AdmAttention : Module<Tensor, Tensor>
{
    readonly GroupNorm norm;
    readonly Conv1d qkv, proj_out;
    readonly int heads;
    readonly bool newOrder;

    public AdmAttention(int channels, int heads, bool newOrder) : base(nameof(AdmAttention))
    {
        this.heads = heads;
        this.newOrder = newOrder;
        norm = AdmLayers.Norm(channels);
        qkv = Conv1d(channels, 3 * channels, 1);
        proj_out = Conv1d(channels, channels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], length = x.shape[2] * x.shape[3];
        long ch = c / heads;
        var flat = x.reshape(b, c, length);
        var projected = qkv.call(norm.call(flat)); // [B, 3C, T]
        Tensor q, k, v;
        if (newOrder)
        {
            var parts = projected.chunk(3, 1);
            q = parts[0].reshape(b * heads, ch, length);
            k = parts[1].reshape(b * heads, ch, length);
            v = parts[2].reshape(b * heads, ch, length);
        }
        else
        {
            var parts = projected.reshape(b * heads, 3 * ch, length).split(ch, 1);
            (q, k, v) = (parts[0], parts[1], parts[2]);
        }
        double scale = 1 / Math.Sqrt(Math.Sqrt(ch));
        var weights = softmax(matmul(q.Times(scale).transpose(1, 2), k.Times(scale)), -1); // [B·heads, T, T]
        var attended = matmul(v, weights.transpose(1, 2)).reshape(b, c, length);
        return flat.Plus(proj_out.call(attended)).reshape(b, c, x.shape[2], x.shape[3]).MoveToOuterDisposeScope();
    }
}

/// <summary>ADM's plain downsampling: a 3×3 convolution with stride 2 (its weights are named <c>op</c>).</summary>
public sealed class AdmDownsample : Module<Tensor, Tensor>
{
    readonly Conv2d op;

    public AdmDownsample(int channels) : base(nameof(AdmDownsample))
    {
        op = Conv2d(channels, channels, 3, stride: 2, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => op.call(x);
}

/// <summary>ADM's plain upsampling: nearest-neighbour ×2, then a 3×3 convolution (named <c>conv</c>).</summary>
public sealed class AdmUpsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public AdmUpsample(int channels) : base(nameof(AdmUpsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var upsampled = AdmLayers.Resample(x, AdmResample.Up);
        return conv.call(upsampled);
    }
}

static class AdmLayers
{
    /// <summary>GroupNorm(32, channels), eps 1e-5, starting as the identity (TorchSharp leaves its affine parameters uninitialised).</summary>
    internal static GroupNorm Norm(int channels) => UNet.GroupNormStartingAsIdentity(AdmUNetConfig.NormGroups, channels);

    /// <summary>A residual block's resampling: 2×2 average pooling down, nearest-neighbour ×2 up (no weights).</summary>
    internal static Tensor Resample(Tensor x, AdmResample resample) => resample switch
    {
        AdmResample.Down => functional.avg_pool2d(x, 2, 2),
        AdmResample.Up => functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest),
        _ => throw new ArgumentOutOfRangeException(nameof(resample), "a residual block without resampling is not resampled"),
    };
}
