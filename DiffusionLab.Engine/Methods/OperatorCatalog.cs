using DiffusionLab.Engine.Operators;

namespace DiffusionLab.Engine.Methods;

/// <summary>Every corruption the lab and the CLI offer.</summary>
/// <remarks>
/// Defaults are DPS's 256×256 settings scaled to the lab's 32×32 images (docs/maths.md §9); lengths in pixels
/// grow with a larger prior's images (<see cref="ParameterDefinition.DefaultFor"/>). A
/// factory reads a missing parameter as its default for the image size; it expects values that passed
/// <see cref="ParameterDefinition.Validate"/>. Choices are stored as their index.
/// </remarks>
public static class OperatorCatalog
{
    static readonly ParameterDefinition BlurKernelSize = new(
        "kernel-size", "Blur kernel size", 1, 65, 9,
        "Width of the square blur kernel. Bigger kernels can smear further.", IsInteger: true, Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition BlurSigma = new(
        "sigma", "Blur width σ", 0.1, 24, 1.5,
        "Standard deviation of the Gaussian: how far each pixel is smeared.", Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition ShakeIntensity = new(
        "intensity", "Shake intensity", 0, 1, 0.5,
        "How much the camera path turns: 0 is a straight streak, 1 a jagged scribble.");

    static readonly ParameterDefinition BoxSize = new(
        "box-size", "Hole size", 1, 256, 16,
        "Side of the square hole (cut to the image if larger).", IsInteger: true, Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition BoxPlacementChoice = new(
        "placement", "Hole position", 0, 2, (int)BoxPlacement.Random,
        "Where the hole goes: the middle, a spot chosen by the seed, or a corner you choose.",
        Choices: ["middle", "random (from the seed)", "at the chosen corner"]);

    static readonly ParameterDefinition BoxLeft = new(
        "box-left", "Hole left edge", 0, 255, 8,
        "Left edge of the hole when placed at a chosen corner (moved inside the image if needed).", IsInteger: true, Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition BoxTop = new(
        "box-top", "Hole top edge", 0, 255, 8,
        "Top edge of the hole when placed at a chosen corner (moved inside the image if needed).", IsInteger: true, Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition BoxMargin = new(
        "margin", "Margin from the edge", 0, 64, 2,
        "A randomly placed hole stays at least this far from the image edges.", IsInteger: true, Unit: "pixels", ScalesWithImage: true);

    static readonly ParameterDefinition FractionMissing = new(
        "fraction-missing", "Share of pixels missing", 0, 0.99, 0.5,
        "Share of the pixels that are lost, chosen at random from the seed.");

    static readonly ParameterDefinition ShrinkFactor = new(
        "factor", "Shrink factor", 0, 1, 0,
        "How much smaller the measured image is in each direction.",
        Choices: ["×2", "×4"]);

    static readonly int[] ShrinkFactors = [2, 4];

    static readonly ParameterDefinition Acceleration = new(
        "acceleration", "Acceleration R", 1, 16, 4,
        "The scan measures about one line in R of the image's Fourier transform: R times faster, R times less data.");

    static readonly ParameterDefinition LineChoice = new(
        "lines", "Which lines", 0, 1, (int)LinePattern.Random,
        "Lines drawn at random (noise-like artefacts) or every R-th line (ghost copies of the image).",
        Choices: ["random", "evenly spaced"]);

    static readonly ParameterDefinition Oversampling = new(
        "oversampling", "Oversampling", 1, 4, 2,
        "The image sits in a black frame this many times its size before the Fourier magnitudes are taken; more frame, more information.");

    public static IReadOnlyList<OperatorDescriptor> All { get; } =
    [
        new(Denoise.CatalogId, "Denoising",
            "Only noise is added to the picture: y = x + noise. The task is to remove the noise without inventing or losing detail.",
            true, [],
            (_, shape, _) => new Denoise(shape), HasKnownSvd: true),

        new(GaussianBlur.CatalogId, "Gaussian blur",
            "An out-of-focus camera: every pixel is smeared over its neighbours with a bell-shaped (Gaussian) weight. Fine detail is damped, and the finest is lost below the noise.",
            true, [BlurKernelSize, BlurSigma],
            (p, shape, _) => new GaussianBlur(shape, ReadInt(p, shape, BlurKernelSize), Read(p, shape, BlurSigma))),

        new(MotionBlur.CatalogId, "Motion blur",
            "A camera that shook while the shutter was open: every pixel is smeared along the same random path, drawn once from the seed. Detail across the path is lost.",
            true, [BlurKernelSize, ShakeIntensity],
            (p, shape, seed) => new MotionBlur(shape, ReadInt(p, shape, BlurKernelSize), Read(p, shape, ShakeIntensity), seed)),

        new(BoxInpainting.CatalogId, "Box inpainting",
            "A square hole is cut out of the picture. Inside the hole there is no information at all: whatever fills it comes from the prior.",
            true, [BoxSize, BoxPlacementChoice, BoxLeft, BoxTop, BoxMargin],
            (p, shape, seed) => new BoxInpainting(shape, ReadInt(p, shape, BoxSize), (BoxPlacement)ReadInt(p, shape, BoxPlacementChoice),
                ReadInt(p, shape, BoxLeft), ReadInt(p, shape, BoxTop), ReadInt(p, shape, BoxMargin), seed), HasKnownSvd: true),

        new(RandomInpainting.CatalogId, "Random inpainting",
            "A random share of the pixels is missing, scattered over the picture. Their neighbours still tell a lot about them.",
            true, [FractionMissing],
            (p, shape, seed) => new RandomInpainting(shape, Read(p, shape, FractionMissing), seed), HasKnownSvd: true),

        new(SuperResolution.CatalogId, "Super-resolution",
            "Only a smaller version of the picture is seen: each measured pixel is the average of a block of pixels. Many sharp pictures shrink to the same small one.",
            true, [ShrinkFactor],
            (p, shape, _) => new SuperResolution(shape, ShrinkFactors[ReadInt(p, shape, ShrinkFactor)]), HasKnownSvd: true),

        new(Colorization.CatalogId, "Colorization",
            "Only the grey picture (the average of red, green and blue) is seen. The colours must come from the prior.",
            true, [],
            (_, shape, _) => new Colorization(shape), HasKnownSvd: true),

        new(FourierSubsampling.CatalogId, "Fourier subsampling (MRI-like)",
            "Like a faster MRI scan: the scanner measures the picture's Fourier transform, but only some of its lines. Skipping lines saves time and causes aliasing, which the prior must undo.",
            true, [Acceleration, LineChoice],
            (p, shape, seed) => new FourierSubsampling(shape, Read(p, shape, Acceleration), (LinePattern)ReadInt(p, shape, LineChoice), seed), HasKnownSvd: true),

        new(PhaseRetrieval.CatalogId, "Phase retrieval",
            "Like a diffraction experiment: only the strength of each frequency of the picture is measured, never its phase. The problem is nonlinear, and shifted or flipped pictures give the same measurement.",
            false, [Oversampling],
            (p, shape, _) => new PhaseRetrieval(shape, Read(p, shape, Oversampling))),
    ];

    public static OperatorDescriptor? Find(string id) => All.FirstOrDefault(d => d.Id == id);

    static double Read(IReadOnlyDictionary<string, double> parameters, long[] shape, ParameterDefinition definition) =>
        parameters.TryGetValue(definition.Key, out var value) ? value : definition.DefaultFor(shape.Length == 3 ? shape[2] : ParameterDefinition.ReferenceImageSide);

    static int ReadInt(IReadOnlyDictionary<string, double> parameters, long[] shape, ParameterDefinition definition) =>
        (int)Math.Round(Read(parameters, shape, definition));
}
