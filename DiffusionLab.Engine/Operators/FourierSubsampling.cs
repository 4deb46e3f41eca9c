using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>Which rows of k-space a Fourier-subsampling scan keeps, besides the centre band.</summary>
public enum LinePattern
{
    /// <summary>Rows drawn from the run's seed (compressed sensing: incoherent aliasing).</summary>
    Random,
    /// <summary>Every R-th row (regular undersampling: the image folds over into ghost copies).</summary>
    Equispaced,
}

/// <summary>
/// Fourier subsampling, the compressed-sensing / MRI picture: the scanner measures the
/// image's 2-D Fourier transform (per channel, orthonormal) but only some rows ("lines") of
/// it, about one row in R for acceleration R, always including a band of the lowest frequencies.
/// </summary>
/// <remarks>
/// y is real, shaped [C, H, W, 2]: the full-size k-space (unshifted, FFT order) as real and
/// imaginary parts in the last axis, zero on the rows not measured. With the orthonormal FFT F
/// and the row mask M, A x = M F x and the exact adjoint for the real inner product is
/// Aᵀ y = Re(F⁻¹ M y); the back-projection is that same zero-filled inverse FFT.
/// The centre band is 0.32/R of the rows (fastMRI's pairing: 8% at R = 4, 4% at R = 8).
/// <para>
/// Its SVD lives in k-space. A real image's spectrum is Hermitian-symmetric (X[k] = conj X[−k]),
/// so AᵀA multiplies frequency row k by (m_k + m_−k)/2: the singular value is 1 where a row and
/// its mirror are both measured, 1/√2 where only one of the two is, 0 where neither is. V is the
/// orthonormal FFT written as real and imaginary parts (spectral shape [C, H, W, 2], the
/// Hermitian-symmetric arrays being its image), U z = M z √(2/c) and Uᵀ y the Hermitian-symmetric
/// part of M y √(2/c), with c = m_k + m_−k.
/// </para>
/// </remarks>
public sealed class FourierSubsampling : MeasurementOperator, ISvdMeasurement
{
    public const string CatalogId = "fourier-subsampling";
    const double CentreShareTimesR = 0.32;
    readonly Tensor rowMask; // [1, 1, H, 1]
    readonly Tensor unpairedRowWeight; // [1, 1, H, 1]: 2 on kept rows whose mirror row was not kept, else 1
    readonly Tensor rowGain; // [1, 1, H, 1, 1], √(2/c) where c = m_k + m_−k > 0, else 0
    readonly Tensor singularValues; // [C, H, W, 2]

    public FourierSubsampling(long[] sampleShape, double acceleration, LinePattern pattern, int seed)
        : base(CatalogId, sampleShape, [.. sampleShape, 2])
    {
        var (_, height, _) = RequireImageShape(sampleShape, CatalogId);
        if (!(acceleration >= 1)) throw new ArgumentOutOfRangeException(nameof(acceleration), "The acceleration R must be at least 1 (R = 1 measures every line).");
        Acceleration = acceleration;
        Pattern = pattern;
        KeptRows = ChooseRows(height, acceleration, pattern, seed);
        var mask = new double[height];
        foreach (var row in KeptRows) mask[row] = 1;
        using var maskTensor = tensor(mask, [1, 1, height, 1], float64);
        rowMask = Keep(maskTensor);
        var weight = new double[height];
        foreach (var row in KeptRows) weight[row] = mask[(height - row) % height] == 1 ? 1 : 2;
        using var weightTensor = tensor(weight, [1, 1, height, 1], float64);
        unpairedRowWeight = Keep(weightTensor);
        var pairCount = new double[height];
        var gain = new double[height];
        for (int k = 0; k < height; k++)
        {
            pairCount[k] = mask[k] + mask[(height - k) % height];
            gain[k] = pairCount[k] > 0 ? Math.Sqrt(2 / pairCount[k]) : 0;
        }
        using var gainTensor = tensor(gain, [1, 1, height, 1, 1], float64);
        rowGain = Keep(gainTensor);
        using var scope = NewDisposeScope();
        var perRow = tensor(pairCount.Select(c => Math.Sqrt(c / 2)).ToArray(), [1, height, 1, 1], float64);
        singularValues = Keep(perRow.expand([sampleShape[0], height, sampleShape[2], 2]).contiguous());
    }

    public double Acceleration { get; }
    public LinePattern Pattern { get; }

    /// <summary>The k-space rows measured, in FFT order (row 0 is the zero frequency), ascending.</summary>
    public long[] KeptRows { get; }

    protected override Tensor ApplyForward(Tensor x)
    {
        var spectrum = fft.fft2(x, norm: FFTNormType.Ortho) * rowMask.to(x);
        return view_as_real(spectrum).contiguous();
    }

    protected override Tensor ApplyAdjoint(Tensor y) => ZeroFilledInverse(y);

    protected override Tensor ApplyBackProject(Tensor y) => ZeroFilledInverse(y);

    public override string NaiveEstimateName => "A⁺y: the zero-filled inverse FFT";

    /// <summary>
    /// A⁺y for real images. A real image's spectrum is conjugate-symmetric, so a kept row whose mirror
    /// row (−k) was not kept tells both: Aᵀy = Re(F⁻¹ M y) counts it only half, and the pseudo-inverse
    /// doubles those rows before the zero-filled inverse (rows kept with their mirror stay as they are).
    /// </summary>
    protected override Tensor ApplyNaiveEstimate(Tensor y)
    {
        var spectrum = view_as_complex(y.contiguous()) * rowMask.to(y) * unpairedRowWeight.to(y);
        return fft.ifft2(spectrum, norm: FFTNormType.Ortho).real.contiguous();
    }

    /// <summary>y as the scanner sees it: the k-space magnitudes, low frequencies in the middle, unmeasured rows black (the mask).</summary>
    protected override Tensor ApplyPicture(Tensor y)
    {
        // Only the measured rows: noise added to y where nothing was measured is not part of the scan.
        var spectrum = view_as_complex(y.contiguous()).abs() * rowMask.to(y);
        return LogMagnitudePicture(fft.fftshift(spectrum, [-2, -1]));
    }

    Tensor ZeroFilledInverse(Tensor y)
    {
        var spectrum = view_as_complex(y.contiguous()) * rowMask.to(y);
        return fft.ifft2(spectrum, norm: FFTNormType.Ortho).real.contiguous();
    }

    public long[] SpectralShape => OutputShape;
    public Tensor SingularValues => singularValues;

    public Tensor ToSpectral(Tensor x) => Scoped(() => view_as_real(fft.fft2(x, norm: FFTNormType.Ortho)).contiguous());

    public Tensor FromSpectral(Tensor spectral) => Scoped(() => fft.ifft2(view_as_complex(spectral.contiguous()), norm: FFTNormType.Ortho).real.contiguous());

    public Tensor MeasurementToSpectral(Tensor y) => Scoped(() => HermitianPart(y * rowMask.unsqueeze(-1).to(y) * rowGain.to(y)));

    public Tensor SpectralToMeasurement(Tensor spectral) => Scoped(() => spectral * rowMask.unsqueeze(-1).to(spectral) * rowGain.to(spectral));

    /// <summary>(w + R w)/2 with R w[k, l] = conj w[−k, −l]: the projection onto spectra of real images.</summary>
    static Tensor HermitianPart(Tensor w)
    {
        var mirrored = w.flip(2, 3).roll([1, 1], [2, 3]);
        var conjugateSign = tensor(new double[] { 1, -1 }, w.dtype, w.device);
        return w.Plus(mirrored * conjugateSign).DividedBy(2);
    }

    static long[] ChooseRows(long height, double acceleration, LinePattern pattern, int seed)
    {
        // Signed frequency of FFT row k: 0, 1, 2, …, then −…, −2, −1.
        long Frequency(long k) => k <= height / 2 ? k : k - height;
        var byDistanceFromCentre = Enumerable.Range(0, (int)height).Select(k => (long)k)
            .OrderBy(k => Math.Abs(Frequency(k))).ThenBy(k => k).ToArray();

        long target = Math.Max(1, (long)Math.Round(height / acceleration));
        long centreBand = Math.Clamp((long)Math.Round(height * CentreShareTimesR / acceleration), 1, target);
        var kept = new SortedSet<long>(byDistanceFromCentre.Take((int)centreBand));

        if (pattern == LinePattern.Equispaced)
        {
            long step = Math.Max(1, (long)Math.Round(acceleration));
            for (long k = 0; k < height; k++)
                if (((Frequency(k) % step) + step) % step == 0) kept.Add(k);
        }
        else
        {
            var others = byDistanceFromCentre.Skip((int)centreBand).ToArray();
            long needed = Math.Min(target - kept.Count, others.Length);
            if (needed > 0)
            {
                using var generator = SeededGenerator(seed, CatalogId);
                using var order = randperm(others.Length, generator: generator);
                foreach (var i in order.data<long>().Take((int)needed)) kept.Add(others[i]);
            }
        }
        return [.. kept];
    }
}
