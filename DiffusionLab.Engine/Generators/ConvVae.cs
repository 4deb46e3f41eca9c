using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace DiffusionLab.Engine.Generators;

/// <summary>The terms of a VAE's loss on a batch, each a mean per image.</summary>
/// <param name="Loss">The negative ELBO with β: <see cref="Reconstruction"/> + β·<see cref="Kl"/> (nats, up to a constant).</param>
/// <param name="Reconstruction">‖x − G(z)‖² / (2σ_x²), the Gaussian likelihood's term.</param>
/// <param name="Kl">KL(q(z | x) ‖ N(0, I)).</param>
/// <param name="MeanSquaredError">The per-pixel mean squared error of the reconstruction, in the images' [-1, 1] scale.</param>
public sealed record VaeLoss(Tensor Loss, Tensor Reconstruction, Tensor Kl, Tensor MeanSquaredError) : IDisposable
{
    public void Dispose()
    {
        Loss.Dispose();
        Reconstruction.Dispose();
        Kl.Dispose();
        MeanSquaredError.Dispose();
    }
}

/// <summary>
/// A convolutional variational autoencoder (Kingma &amp; Welling 2014): the encoder maps an image to
/// the mean and log-variance of a Gaussian q(z | x) over z ∈ ℝ^L, the decoder — the same network as
/// the GAN's generator — maps z back to the mean of a Gaussian p(x | z) = N(G(z), σ_x² I), and the
/// prior is p(z) = N(0, I). Training minimises the negative ELBO,
/// ‖x − G(z)‖² / (2σ_x²) + β KL(q(z | x) ‖ p(z)), z = μ + σ ⊙ ε (the reparameterisation trick);
/// β = 1 is the ELBO itself, β &gt; 1 trades detail for a smoother latent space (Higgins et al. 2017).
/// The decoder's output is a mean, an average over the images a code could have come from — which is
/// why VAE samples come out blurred.
/// </summary>
public sealed class ConvVae : Module<Tensor, Tensor>
{
    // Field names become the weights' names in checkpoints: keep them stable.
    readonly ModuleList<NormalisedConv2d> encoder;
    readonly Linear to_latent;
    readonly ConvGenerator decoder;

    public ConvVae(GeneratorConfig config, string name = "vae", long seed = 0) : base(nameof(ConvVae))
    {
        config.Validate();
        Config = config;
        Name = name;
        encoder = Discriminator.DownBlocks(config, spectral: false);
        to_latent = Linear(config.ChannelsAt(0) * 16, 2 * config.LatentDimension);
        decoder = new ConvGenerator(config, name, seed + 1);
        RegisterComponents();
        using var generator = new Generator((ulong)seed);
        using var _ = no_grad();
        foreach (var (parameterName, parameter) in named_parameters())
        {
            if (parameterName.StartsWith("decoder.", StringComparison.Ordinal)) continue;
            // Kaiming-like scale for the encoder (leaky ReLU), a small head so the first codes sit near the prior.
            double fanIn = parameter.dim() > 1 ? parameter.shape.Skip(1).Aggregate(1L, (a, b) => a * b) : 1;
            if (parameterName.EndsWith("bias", StringComparison.Ordinal)) parameter.zero_();
            else
            {
                using var draw = randn(parameter.shape, generator: generator);
                using var scaled = draw.Times((parameterName.StartsWith("to_latent", StringComparison.Ordinal) ? 0.1 : 1.4) / Math.Sqrt(fanIn));
                parameter.copy_(scaled);
            }
        }
    }

    public GeneratorConfig Config { get; }
    public string Name { get; }
    public ConvGenerator Decoder => decoder;
    public long ParameterCount => parameters().Sum(p => p.numel());

    /// <summary>The mean and log-variance of q(z | x), each [B, L].</summary>
    public (Tensor Mean, Tensor LogVariance) Encode(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != Config.Channels || x.shape[2] != Config.ImageSize || x.shape[3] != Config.ImageSize)
            throw new ArgumentException($"the encoder takes [B, {Config.Channels}, {Config.ImageSize}, {Config.ImageSize}], got [{string.Join(", ", x.shape)}]", nameof(x));
        using var scope = NewDisposeScope();
        var statistics = to_latent.call(Discriminator.Down(encoder, x).flatten(1));
        var parts = statistics.chunk(2, 1);
        // A bounded log-variance keeps exp() finite early in training, when the head is still arbitrary.
        return (parts[0].MoveToOuterDisposeScope(), parts[1].Clamped(-12, 6).MoveToOuterDisposeScope());
    }

    /// <summary>The reconstruction of x through the mean code, G(μ(x)).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (mean, _) = Encode(x);
        return decoder.call(mean).MoveToOuterDisposeScope();
    }

    /// <summary>The β-weighted negative ELBO of a batch, with the reparameterisation noise ε [B, L] given (so it is reproducible).</summary>
    public VaeLoss Loss(Tensor x, Tensor epsilon, double beta, double sigma)
    {
        if (!(beta >= 0) || !double.IsFinite(beta)) throw new ArgumentOutOfRangeException(nameof(beta), "β must be a finite number ≥ 0");
        if (!(sigma > 0) || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), "σ_x must be a positive number");
        using var scope = NewDisposeScope();
        var (mean, logVariance) = Encode(x);
        var z = mean.Plus(logVariance.Times(0.5).exp() * epsilon);
        var reconstruction = decoder.call(z);
        var squaredError = (x - reconstruction).Squared().flatten(1).sum(1);
        var reconstructionTerm = squaredError.DividedBy(2 * sigma * sigma).mean();
        // KL(N(μ, σ²) ‖ N(0, 1)) = ½ Σ (μ² + σ² − 1 − log σ²)
        var kl = mean.Squared().Plus(logVariance.exp()).Minus(1).sub(logVariance).sum(1).Times(0.5).mean();
        var loss = reconstructionTerm.Plus(kl.Times(beta));
        var mse = squaredError.mean().DividedBy(x[0].numel());
        return new VaeLoss(loss.MoveToOuterDisposeScope(), reconstructionTerm.MoveToOuterDisposeScope(), kl.MoveToOuterDisposeScope(), mse.MoveToOuterDisposeScope());
    }
}
