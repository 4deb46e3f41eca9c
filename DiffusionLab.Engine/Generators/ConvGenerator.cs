using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Generators;

/// <summary>A network that maps a latent code to an image: G(z), z ∈ ℝ^L, image in [-1, 1].</summary>
public interface IImageGenerator
{
    string Name { get; }
    GeneratorConfig Config { get; }

    /// <summary>G(z) for z of shape [B, L]: images [B, C, S, S] in [-1, 1]. Differentiable in z.</summary>
    Tensor Generate(Tensor z);
}

/// <summary>
/// The DCGAN generator (Radford et al. 2016): z is read as a 1 × 1 map and grown by transposed
/// convolutions (kernel 4, stride 2) to the image size, halving the channels at each doubling, with
/// batch normalisation and ReLU between them and tanh at the end. The same network is the VAE's
/// decoder, so the VAE and the GAN differ only in how their generator was trained.
/// In eval mode (as loaded for sampling or CSGM) the batch norms use their running statistics, so
/// G(z) depends on z alone, not on the other codes in the batch.
/// </summary>
public sealed class ConvGenerator : Module<Tensor, Tensor>, IImageGenerator
{
    // Field names become the weights' names in checkpoints: keep them stable.
    readonly ModuleList<Module<Tensor, Tensor>> blocks;
    readonly ConvTranspose2d to_image;

    public ConvGenerator(GeneratorConfig config, string name = "generator", long seed = 0) : base(nameof(ConvGenerator))
    {
        config.Validate();
        Config = config;
        Name = name;
        var list = new List<Module<Tensor, Tensor>>();
        int previous = config.LatentDimension;
        for (int level = 0; level < config.Levels; level++)
        {
            int channels = config.ChannelsAt(level);
            // Level 0 turns the 1 × 1 code into a 4 × 4 map; every later level doubles the resolution.
            var conv = level == 0 ? ConvTranspose2d(previous, channels, 4, stride: 1, padding: 0, bias: false)
                                  : ConvTranspose2d(previous, channels, 4, stride: 2, padding: 1, bias: false);
            list.Add(Sequential(("conv", conv), ("norm", BatchNorm2d(channels)), ("relu", ReLU())));
            previous = channels;
        }
        blocks = new ModuleList<Module<Tensor, Tensor>>(list.ToArray());
        to_image = ConvTranspose2d(previous, config.Channels, 4, stride: 2, padding: 1);
        RegisterComponents();
        NetworkInit.Dcgan(this, seed);
    }

    public GeneratorConfig Config { get; }
    public string Name { get; }
    public long ParameterCount => parameters().Sum(p => p.numel());

    public Tensor Generate(Tensor z) => forward(z);

    public override Tensor forward(Tensor z)
    {
        if (z.dim() != 2 || z.shape[1] != Config.LatentDimension)
            throw new ArgumentException($"the generator takes codes [B, {Config.LatentDimension}], got [{string.Join(", ", z.shape)}]", nameof(z));
        using var scope = NewDisposeScope();
        var h = z.view(z.shape[0], Config.LatentDimension, 1, 1);
        foreach (var block in blocks) h = block.call(h);
        return to_image.call(h).tanh().MoveToOuterDisposeScope();
    }
}

/// <summary>Weight initialisation shared by the generators' networks, seeded so a run is reproducible.</summary>
static class NetworkInit
{
    /// <summary>DCGAN's initialisation: convolution and linear weights N(0, 0.02²), batch-norm scales N(1, 0.02²), biases 0.</summary>
    public static void Dcgan(Module module, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, parameter) in module.named_parameters())
        {
            var leaf = name[(name.LastIndexOf('.') + 1)..];
            if (leaf == "bias") parameter.zero_();
            else if (name.Contains(".norm.", StringComparison.Ordinal)) parameter.copy_(randn(parameter.shape, generator: generator).Times(0.02).Plus(1));
            else parameter.copy_(randn(parameter.shape, generator: generator).Times(0.02));
        }
    }

    static readonly Scalar LeakySlope = 0.2.ToScalar();

    /// <summary>Leaky ReLU with slope 0.2 (DCGAN's discriminator), with its slope held in a Scalar that is never freed.</summary>
    public static Tensor LeakyRelu(Tensor x) => x.leaky_relu(LeakySlope);
}
