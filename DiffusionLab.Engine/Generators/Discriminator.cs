using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Generators;

/// <summary>
/// A convolution whose weight can be spectrally normalised (Miyato et al. 2018): the weight used is
/// W / σ(W), with σ(W) the largest singular value of W read as a matrix [out, in·k·k], estimated by
/// one power iteration per training forward pass from a vector u kept between passes. That caps the
/// layer's Lipschitz constant at 1, so a discriminator built of such layers cannot sharpen without
/// bound — the normalisation that makes GAN training stable here. Without it, a plain convolution.
/// </summary>
public sealed class NormalisedConv2d : Module<Tensor, Tensor>
{
    readonly Parameter weight, bias;
    readonly Tensor? u;
    readonly long stride, padding;

    public NormalisedConv2d(int inChannels, int outChannels, int kernel, int stride, int padding, bool spectral) : base(nameof(NormalisedConv2d))
    {
        this.stride = stride;
        this.padding = padding;
        weight = new Parameter(zeros(outChannels, inChannels, kernel, kernel));
        bias = new Parameter(zeros(outChannels));
        register_parameter("weight", weight);
        register_parameter("bias", bias);
        if (spectral)
        {
            // A fixed unit start for the power iteration; the generator-seeded weights make it generic.
            using var ones = ScalarArithmetic.Full([outChannels], 1.0, float32);
            u = ones.DividedBy(Math.Sqrt(outChannels));
            register_buffer("u", u);
        }
    }

    public bool Spectral => u is not null;

    /// <summary>The weight the convolution applies (W / σ(W) when spectral), detached, [out, in, k, k].</summary>
    public Tensor AppliedWeight()
    {
        using var _ = no_grad();
        return u is null ? weight.detach().clone() : SpectrallyNormalised();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var w = u is null ? (Tensor)weight : SpectrallyNormalised();
        return nn.functional.conv2d(x, w, bias, strides: [stride, stride], padding: [padding, padding]).MoveToOuterDisposeScope();
    }

    Tensor SpectrallyNormalised()
    {
        var matrix = weight.flatten(1);
        Tensor left, right;
        using (no_grad())
        {
            right = UnitVector(matrix.t().matmul(u!));
            left = UnitVector(matrix.matmul(right));
            // Only training advances the iteration, so an evaluated network is a fixed function.
            if (training) u!.copy_(left);
        }
        // σ = uᵀ W v with u and v held constant: the gradient flows through W alone, as in the paper.
        var sigma = left.dot(matrix.matmul(right));
        return weight.div(sigma);
    }

    static Tensor UnitVector(Tensor v) => v.div(v.Squared().sum().sqrt().Plus(1e-12));
}

/// <summary>
/// The DCGAN discriminator mirrored from the generator: convolutions with kernel 4 and stride 2
/// halve the resolution and double the channels down to 4 × 4, with leaky ReLU (slope 0.2) between
/// them, and a last 4 × 4 convolution gives one logit per image. No batch normalisation, so a
/// sample's score never depends on the rest of the batch; with <paramref name="spectral"/> every
/// layer is spectrally normalised.
/// </summary>
public sealed class Discriminator : Module<Tensor, Tensor>
{
    readonly ModuleList<NormalisedConv2d> blocks;
    readonly NormalisedConv2d to_logit;

    public Discriminator(GeneratorConfig config, bool spectral, long seed = 0) : base(nameof(Discriminator))
    {
        config.Validate();
        Config = config;
        blocks = DownBlocks(config, spectral);
        to_logit = new NormalisedConv2d(config.ChannelsAt(0), 1, 4, 1, 0, spectral);
        RegisterComponents();
        NetworkInit.Dcgan(this, seed);
    }

    public GeneratorConfig Config { get; }
    public bool Spectral => to_logit.Spectral;
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>One logit per image, [B].</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return to_logit.call(Down(blocks, x)).flatten().MoveToOuterDisposeScope();
    }

    /// <summary>The way down from the image to a 4 × 4 map of 2^(levels−1)·Width channels (the VAE's encoder uses it too).</summary>
    internal static ModuleList<NormalisedConv2d> DownBlocks(GeneratorConfig config, bool spectral)
    {
        var list = new List<NormalisedConv2d>();
        int previous = config.Channels;
        for (int level = config.Levels - 1; level >= 0; level--)
        {
            list.Add(new NormalisedConv2d(previous, config.ChannelsAt(level), 4, 2, 1, spectral));
            previous = config.ChannelsAt(level);
        }
        return new ModuleList<NormalisedConv2d>(list.ToArray());
    }

    internal static Tensor Down(ModuleList<NormalisedConv2d> blocks, Tensor x)
    {
        if (x.dim() != 4) throw new ArgumentException($"images [B, C, S, S] are needed, got [{string.Join(", ", x.shape)}]", nameof(x));
        var h = x;
        foreach (var block in blocks) h = NetworkInit.LeakyRelu(block.call(h));
        return h;
    }
}
