using DiffusionLab.Engine.Diffusion;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Priors;

/// <summary>What a network's output stands for: the noise ε, the velocity v = √ᾱ ε − √(1−ᾱ) x0, or x0 itself.</summary>
public enum PredictionType { Epsilon, Velocity, Sample }

/// <summary>
/// diffusers' <c>UNet2DModel</c> as its config.json describes it, so that its weights load name by name: a time
/// embedding (sinusoidal, then two linear layers), down blocks of ResNet blocks (with attention in the Attn kinds)
/// and a strided-convolution downsampler, a middle block (ResNet, attention, ResNet), up blocks of ResNet blocks fed
/// the down path's outputs (with attention, and a nearest-neighbour ×2 convolution upsampler), and GroupNorm → SiLU →
/// conv out. Its output is turned into ε for the solvers according to the scheduler's prediction type.
/// </summary>
/// <remarks>
/// Key names: <c>conv_in</c>, <c>time_embedding.linear_{1,2}</c>, <c>down_blocks.i.resnets.j</c>,
/// <c>down_blocks.i.attentions.j</c>, <c>down_blocks.i.downsamplers.0.conv</c>, <c>mid_block.resnets.{0,1}</c>,
/// <c>mid_block.attentions.0</c>, <c>up_blocks.i.…</c>, <c>up_blocks.i.upsamplers.0.conv</c>, <c>conv_norm_out</c>,
/// <c>conv_out</c>; a ResNet block has <c>norm1, conv1, time_emb_proj, norm2, conv2[, conv_shortcut]</c> and an
/// attention <c>group_norm, to_q, to_k, to_v, to_out.0</c> (older files' query/key/value/proj_attn are renamed on import).
/// </remarks>
public sealed class DiffusersUNet : Module<Tensor, Tensor, Tensor>, IDenoiser
{
    readonly Conv2d conv_in;
    readonly DiffusersTimeEmbedding time_embedding;
    readonly ModuleList<DiffusersDownBlock> down_blocks;
    readonly DiffusersMidBlock? mid_block;
    readonly ModuleList<DiffusersUpBlock> up_blocks;
    readonly GroupNorm conv_norm_out;
    readonly Conv2d conv_out;

    public DiffusersUNet(DiffusersUNetConfig config, NoiseSchedule schedule, PredictionType prediction, string name = "diffusers-unet") : base(nameof(DiffusersUNet))
    {
        var problems = config.Problems();
        if (problems.Count > 0) throw new ArgumentException("invalid UNet2DModel configuration: " + string.Join("; ", problems), nameof(config));
        Config = config;
        Schedule = schedule;
        Prediction = prediction;
        Name = name;

        var channels = config.BlockOutChannels;
        int embedding = config.TimeEmbeddingChannels, levels = channels.Length;
        conv_in = Conv2d(config.InChannels, channels[0], 3, padding: 1);
        time_embedding = new DiffusersTimeEmbedding(channels[0], embedding);

        var downs = new List<DiffusersDownBlock>();
        int output = channels[0];
        for (int i = 0; i < levels; i++)
        {
            int input = output;
            output = channels[i];
            downs.Add(new DiffusersDownBlock(config, input, output, embedding, config.DownBlockTypes[i] == "AttnDownBlock2D", addDownsample: i < levels - 1));
        }
        down_blocks = new ModuleList<DiffusersDownBlock>([.. downs]);
        if (config.MidBlockType is not null) mid_block = new DiffusersMidBlock(config, channels[^1], embedding);

        var ups = new List<DiffusersUpBlock>();
        var reversed = channels.Reverse().ToArray();
        output = reversed[0];
        for (int i = 0; i < levels; i++)
        {
            int previous = output;
            output = reversed[i];
            int input = reversed[Math.Min(i + 1, levels - 1)];
            ups.Add(new DiffusersUpBlock(config, input, output, previous, embedding, config.UpBlockTypes[i] == "AttnUpBlock2D", addUpsample: i < levels - 1));
        }
        up_blocks = new ModuleList<DiffusersUpBlock>([.. ups]);
        conv_norm_out = DiffusersLayers.Norm(config.NormNumGroups, channels[0], config.NormEps);
        conv_out = Conv2d(channels[0], config.OutChannels, 3, padding: 1);
        RegisterComponents();
    }

    public DiffusersUNetConfig Config { get; }
    public string Name { get; }
    public NoiseSchedule Schedule { get; }
    public PredictionType Prediction { get; }
    public long[] SampleShape => [Config.InChannels, Config.SampleSize, Config.SampleSize];
    public Device Device => conv_in.weight!.device;
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The network's raw output (ε, v or x0 by <see cref="Prediction"/>).</summary>
    public override Tensor forward(Tensor x, Tensor t)
    {
        UNet.RequireImages(x, Config.InChannels, Config.SampleSize, "the UNet2DModel");
        using var scope = NewDisposeScope();
        var h = Config.CenterInputSample ? x.Times(2).Minus(1) : x;
        var embedding = time_embedding.call(DiffusersLayers.TimestepEmbedding(t, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift).to(x.device));
        h = conv_in.call(h);
        var skips = new List<Tensor> { h };
        foreach (var block in down_blocks)
            h = block.Forward(h, embedding, skips);
        if (mid_block is not null) h = mid_block.call(h, embedding);
        foreach (var block in up_blocks)
            h = block.Forward(h, embedding, skips);
        return conv_out.call(functional.silu(conv_norm_out.call(h))).MoveToOuterDisposeScope();
    }

    /// <summary>ε at x_t: the output itself, or converted from v (ε = √ᾱ v + √(1−ᾱ) x_t) or from x0 (ε = (x_t − √ᾱ x0)/√(1−ᾱ)).</summary>
    public Tensor PredictNoise(Tensor xt, Tensor t)
    {
        if (Prediction == PredictionType.Epsilon) return forward(xt, t);
        using var scope = NewDisposeScope();
        var output = forward(xt, t);
        var alphaBar = Schedule.AlphaBar(t, xt.device).reshape(-1, 1, 1, 1);
        var signal = alphaBar.sqrt();
        var noise = alphaBar.SubtractedFrom(1).sqrt();
        var epsilon = Prediction == PredictionType.Velocity
            ? signal.mul(output).Plus(noise.mul(xt))
            : xt.sub(signal.mul(output)).div(noise);
        return epsilon.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' TimestepEmbedding: linear → SiLU → linear.</summary>
public sealed class DiffusersTimeEmbedding : Module<Tensor, Tensor>
{
    readonly Linear linear_1, linear_2;

    public DiffusersTimeEmbedding(int inChannels, int embedding) : base(nameof(DiffusersTimeEmbedding))
    {
        linear_1 = Linear(inChannels, embedding);
        linear_2 = Linear(embedding, embedding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return linear_2.call(functional.silu(linear_1.call(x))).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' ResnetBlock2D: norm1 → SiLU → conv1, + the projected embedding (or scale and shift after norm2),
/// norm2 → SiLU → dropout → conv2, added to the (1×1-projected) input and divided by the output scale factor.</summary>
public sealed class DiffusersResnet : Module<Tensor, Tensor, Tensor>
{
    readonly GroupNorm norm1, norm2;
    readonly Conv2d conv1, conv2;
    readonly Linear time_emb_proj;
    readonly Dropout dropout;
    readonly Conv2d? conv_shortcut;
    readonly bool scaleShift;
    readonly double outputScale;

    public DiffusersResnet(DiffusersUNetConfig config, int inChannels, int outChannels, int embedding, double outputScale = 1) : base(nameof(DiffusersResnet))
    {
        scaleShift = config.ResnetTimeScaleShift == "scale_shift";
        this.outputScale = outputScale;
        norm1 = DiffusersLayers.Norm(config.NormNumGroups, inChannels, config.NormEps);
        conv1 = Conv2d(inChannels, outChannels, 3, padding: 1);
        time_emb_proj = Linear(embedding, scaleShift ? 2 * outChannels : outChannels);
        norm2 = DiffusersLayers.Norm(config.NormNumGroups, outChannels, config.NormEps);
        dropout = Dropout(config.Dropout);
        conv2 = Conv2d(outChannels, outChannels, 3, padding: 1);
        if (inChannels != outChannels) conv_shortcut = Conv2d(inChannels, outChannels, 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = conv1.call(functional.silu(norm1.call(x)));
        var projected = time_emb_proj.call(functional.silu(embedding)).unsqueeze(-1).unsqueeze(-1);
        h = UNet.ConditionOnTime(h, projected, norm2, scaleShift);
        h = conv2.call(dropout.call(functional.silu(h)));
        var shortcut = conv_shortcut is null ? x : conv_shortcut.call(x);
        var sum = shortcut.Plus(h);
        return (outputScale == 1 ? sum : sum.DividedBy(outputScale)).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' Attention as UNet2DModel uses it: optional GroupNorm, linear q, k, v over the flattened pixels,
/// softmax(q kᵀ/√d) v per head, a linear output, the input added back and divided by the rescale factor.</summary>
public sealed class DiffusersAttention : Module<Tensor, Tensor>
{
    readonly GroupNorm? group_norm;
    readonly Linear to_q, to_k, to_v;
    readonly ModuleList<Linear> to_out;
    readonly int heads;
    readonly double rescale;

    public DiffusersAttention(int channels, int heads, int? groups, double eps, double rescale = 1) : base(nameof(DiffusersAttention))
    {
        this.heads = heads;
        this.rescale = rescale;
        if (groups is { } g) group_norm = DiffusersLayers.Norm(g, channels, eps);
        to_q = Linear(channels, channels);
        to_k = Linear(channels, channels);
        to_v = Linear(channels, channels);
        to_out = new ModuleList<Linear>(Linear(channels, channels));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], c = x.shape[1], height = x.shape[2], width = x.shape[3], length = height * width;
        long d = c / heads;
        var normed = group_norm is null ? x : group_norm.call(x);
        var tokens = normed.reshape(b, c, length).transpose(1, 2); // [B, T, C]
        Tensor Heads(Linear projection) => projection.call(tokens).reshape(b, length, heads, d).transpose(1, 2); // [B, heads, T, d]
        var q = Heads(to_q);
        var k = Heads(to_k);
        var v = Heads(to_v);
        var weights = softmax(matmul(q, k.transpose(2, 3)).DividedBy(Math.Sqrt(d)), -1);
        var attended = matmul(weights, v).transpose(1, 2).reshape(b, length, c);
        var projected = to_out[0].call(attended).transpose(1, 2).reshape(b, c, height, width);
        var sum = projected.Plus(x);
        return (rescale == 1 ? sum : sum.DividedBy(rescale)).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' Downsample2D with a convolution: 3×3, stride 2; with padding 0 the image is first padded by one
/// pixel on the right and bottom only (as the DDPM ports do).</summary>
public sealed class DiffusersDownsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;
    readonly int padding;

    public DiffusersDownsample(int channels, int padding) : base(nameof(DiffusersDownsample))
    {
        this.padding = padding;
        conv = Conv2d(channels, channels, 3, stride: 2, padding: padding);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        if (padding != 0) return conv.call(x);
        using var padded = functional.pad(x, [0, 1, 0, 1]);
        return conv.call(padded);
    }
}

/// <summary>diffusers' Upsample2D with a convolution: nearest-neighbour ×2, then 3×3.</summary>
public sealed class DiffusersUpsample : Module<Tensor, Tensor>
{
    readonly Conv2d conv;

    public DiffusersUpsample(int channels) : base(nameof(DiffusersUpsample))
    {
        conv = Conv2d(channels, channels, 3, padding: 1);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var upsampled = functional.interpolate(x, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        return conv.call(upsampled);
    }
}

/// <summary>DownBlock2D / AttnDownBlock2D: each ResNet block (then attention) hands its output to the skips, and the downsampler's too.</summary>
public sealed class DiffusersDownBlock : Module
{
    readonly ModuleList<DiffusersResnet> resnets;
    readonly ModuleList<DiffusersAttention>? attentions;
    readonly ModuleList<DiffusersDownsample>? downsamplers;

    public DiffusersDownBlock(DiffusersUNetConfig config, int inChannels, int outChannels, int embedding, bool attention, bool addDownsample) : base(nameof(DiffusersDownBlock))
    {
        resnets = new ModuleList<DiffusersResnet>([.. Enumerable.Range(0, config.LayersPerBlock)
            .Select(i => new DiffusersResnet(config, i == 0 ? inChannels : outChannels, outChannels, embedding))]);
        if (attention)
            attentions = new ModuleList<DiffusersAttention>([.. Enumerable.Range(0, config.LayersPerBlock)
                .Select(_ => new DiffusersAttention(outChannels, config.Heads(outChannels), config.NormNumGroups, config.NormEps))]);
        if (addDownsample) downsamplers = new ModuleList<DiffusersDownsample>(new DiffusersDownsample(outChannels, config.DownsamplePadding));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor embedding, List<Tensor> skips)
    {
        var h = x;
        for (int i = 0; i < resnets.Count; i++)
        {
            h = resnets[i].call(h, embedding);
            if (attentions is not null) h = attentions[i].call(h);
            skips.Add(h);
        }
        if (downsamplers is not null)
        {
            h = downsamplers[0].call(h);
            skips.Add(h);
        }
        return h;
    }
}

/// <summary>UNetMidBlock2D: ResNet, attention (unless add_attention is false), ResNet, at the output scale factor.</summary>
public sealed class DiffusersMidBlock : Module<Tensor, Tensor, Tensor>
{
    readonly ModuleList<DiffusersResnet> resnets;
    readonly ModuleList<DiffusersAttention>? attentions;

    public DiffusersMidBlock(DiffusersUNetConfig config, int channels, int embedding) : base(nameof(DiffusersMidBlock))
    {
        double scale = config.MidBlockScaleFactor;
        resnets = new ModuleList<DiffusersResnet>(
            new DiffusersResnet(config, channels, channels, embedding, scale), new DiffusersResnet(config, channels, channels, embedding, scale));
        if (config.AddAttention)
            attentions = new ModuleList<DiffusersAttention>(new DiffusersAttention(channels, config.Heads(channels), config.MidAttentionGroups, config.NormEps, scale));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x, Tensor embedding)
    {
        using var scope = NewDisposeScope();
        var h = resnets[0].call(x, embedding);
        if (attentions is not null) h = attentions[0].call(h);
        return resnets[1].call(h, embedding).MoveToOuterDisposeScope();
    }
}

/// <summary>UpBlock2D / AttnUpBlock2D: each ResNet block takes the features with the newest skip concatenated (then attention); an upsampler last.</summary>
public sealed class DiffusersUpBlock : Module
{
    readonly ModuleList<DiffusersResnet> resnets;
    readonly ModuleList<DiffusersAttention>? attentions;
    readonly ModuleList<DiffusersUpsample>? upsamplers;

    public DiffusersUpBlock(DiffusersUNetConfig config, int inChannels, int outChannels, int previousChannels, int embedding, bool attention, bool addUpsample)
        : base(nameof(DiffusersUpBlock))
    {
        int layers = config.LayersPerBlock + 1;
        resnets = new ModuleList<DiffusersResnet>([.. Enumerable.Range(0, layers).Select(i =>
        {
            int skip = i == layers - 1 ? inChannels : outChannels;
            int input = i == 0 ? previousChannels : outChannels;
            return new DiffusersResnet(config, input + skip, outChannels, embedding);
        })]);
        if (attention)
            attentions = new ModuleList<DiffusersAttention>([.. Enumerable.Range(0, layers)
                .Select(_ => new DiffusersAttention(outChannels, config.Heads(outChannels), config.NormNumGroups, config.NormEps))]);
        if (addUpsample) upsamplers = new ModuleList<DiffusersUpsample>(new DiffusersUpsample(outChannels));
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor embedding, List<Tensor> skips)
    {
        var h = x;
        for (int i = 0; i < resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            h = resnets[i].call(cat([h, skip], 1), embedding);
            if (attentions is not null) h = attentions[i].call(h);
        }
        if (upsamplers is not null) h = upsamplers[0].call(h);
        return h;
    }
}

static class DiffusersLayers
{
    /// <summary>GroupNorm starting as the identity (TorchSharp leaves its affine parameters uninitialised).</summary>
    internal static GroupNorm Norm(int groups, int channels, double eps) => UNet.GroupNormStartingAsIdentity(groups, channels, eps);

    /// <summary>diffusers' sinusoidal timestep embedding: frequencies exp(−ln(10⁴)·i/(half − shift)), [sin, cos] (or [cos, sin] flipped).</summary>
    internal static Tensor TimestepEmbedding(Tensor t, int dim, bool flipSinToCos, int shift)
    {
        using var scope = NewDisposeScope();
        int half = dim / 2;
        using var halfScalar = half.ToScalar();
        var frequencies = exp(arange(halfScalar, dtype: float32).Times(-Math.Log(10000.0) / (half - shift)));
        var angles = t.to(float32).cpu().unsqueeze(1) * frequencies.unsqueeze(0);
        var embedding = flipSinToCos ? cat([cos(angles), sin(angles)], 1) : cat([sin(angles), cos(angles)], 1);
        if (dim % 2 == 1) embedding = functional.pad(embedding, [0, 1]);
        return embedding.MoveToOuterDisposeScope();
    }
}
