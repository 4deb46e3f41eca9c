using static TorchSharp.torch;

namespace DiffusionLab.Engine.Operators;

/// <summary>
/// What every corruption shares: its shapes, the tensors it was built with (a kernel, a
/// mask), and the bookkeeping around each call. Each call runs in its own dispose scope so
/// intermediates are freed at once and only the result reaches the caller; the operator's
/// own tensors are kept out of any caller's scope, because an operator is usually built
/// inside one and lives for the whole run.
/// </summary>
/// <remarks>
/// Constants are stored in float64 and cast to the input's dtype and device per call, so the
/// same operator serves float32 solvers and the float64 adjoint tests.
/// </remarks>
public abstract class MeasurementOperator : IMeasurement, IDisposable
{
    readonly List<Tensor> owned = [];
    bool disposed;

    protected MeasurementOperator(string id, long[] inputShape, long[] outputShape)
    {
        if (inputShape.Length == 0 || inputShape.Any(n => n < 1))
            throw new ArgumentException($"A sample shape needs positive sizes, got [{string.Join(", ", inputShape)}].", nameof(inputShape));
        Id = id;
        InputShape = inputShape;
        OutputShape = outputShape;
    }

    public string Id { get; }
    public virtual bool IsLinear => true;
    public long[] InputShape { get; }
    public long[] OutputShape { get; }

    public Tensor Forward(Tensor x)
    {
        RequireSampleShape(x, InputShape, "image");
        using var scope = NewDisposeScope();
        return ApplyForward(x).MoveToOuterDisposeScope();
    }

    public Tensor Adjoint(Tensor y)
    {
        if (!IsLinear)
            throw new NotSupportedException($"The {Id} corruption is not linear, so it has no adjoint Aᵀ; use a method that only differentiates A (such as DPS).");
        RequireSampleShape(y, OutputShape, "measurement");
        using var scope = NewDisposeScope();
        return ApplyAdjoint(y).MoveToOuterDisposeScope();
    }

    public Tensor BackProject(Tensor y)
    {
        RequireSampleShape(y, OutputShape, "measurement");
        using var scope = NewDisposeScope();
        return ApplyBackProject(y).MoveToOuterDisposeScope();
    }

    public Tensor Picture(Tensor y)
    {
        RequireSampleShape(y, OutputShape, "measurement");
        using var scope = NewDisposeScope();
        return ApplyPicture(y).MoveToOuterDisposeScope();
    }

    public Tensor? NaiveEstimate(Tensor y)
    {
        RequireSampleShape(y, OutputShape, "measurement");
        using var scope = NewDisposeScope();
        return ApplyNaiveEstimate(y)?.MoveToOuterDisposeScope();
    }

    /// <summary>What <see cref="NaiveEstimate"/> is, for a caption; each operator says which estimate it gives.</summary>
    public abstract string NaiveEstimateName { get; }

    /// <summary>Runs <paramref name="compute"/> in its own dispose scope and hands only its result to the caller (the SVD operations use it as Forward does).</summary>
    protected static Tensor Scoped(Func<Tensor> compute)
    {
        using var scope = NewDisposeScope();
        return compute().MoveToOuterDisposeScope();
    }

    /// <summary>A(x) for a batch; runs inside a dispose scope, must return a new tensor (never <paramref name="x"/> itself).</summary>
    protected abstract Tensor ApplyForward(Tensor x);

    /// <summary>Aᵀ(y) for a batch; only called on linear operators.</summary>
    protected abstract Tensor ApplyAdjoint(Tensor y);

    /// <summary>A picture of y in image space, shape [B, ..InputShape].</summary>
    protected abstract Tensor ApplyBackProject(Tensor y);

    /// <summary>y as a picture for the panels; the back-projection unless y is not an image.</summary>
    protected virtual Tensor ApplyPicture(Tensor y) => ApplyBackProject(y);

    /// <summary>The estimate from y alone (A⁺y, or the back-projection where that is the operator's natural one); null for none.</summary>
    protected virtual Tensor? ApplyNaiveEstimate(Tensor y) => ApplyBackProject(y);

    /// <summary>
    /// A magnitude spectrum [B, C, H, W] (zero frequency in the middle) as a picture: log(1 + |·|)
    /// so that the faint high frequencies show beside the bright centre, scaled per sample so its
    /// brightest value is white and zero (a frequency not measured) is black.
    /// </summary>
    protected static Tensor LogMagnitudePicture(Tensor magnitude)
    {
        var logarithm = magnitude.abs().log1p();
        var brightest = logarithm.flatten(1).amax([1]).AtLeast(1e-12).reshape([magnitude.shape[0], 1, 1, 1]);
        return (logarithm / brightest).Times(2).Minus(1);
    }

    /// <summary>Keeps a constant for the operator's lifetime: a float64 copy outside every dispose scope.</summary>
    protected Tensor Keep(Tensor constant)
    {
        var kept = constant.detach().to(float64, copy: true).DetachFromDisposeScope();
        owned.Add(kept);
        return kept;
    }

    /// <summary>Keeps an index list (int64) for the operator's lifetime.</summary>
    protected Tensor KeepIndex(long[] indices)
    {
        var kept = tensor(indices, int64).DetachFromDisposeScope();
        owned.Add(kept);
        return kept;
    }

    /// <summary>(C, H, W) of an image sample shape; image-only corruptions refuse flat vectors in plain words.</summary>
    protected static (long Channels, long Height, long Width) RequireImageShape(long[] sampleShape, string id)
    {
        if (sampleShape.Length != 3 || sampleShape.Any(n => n < 1))
            throw new ArgumentException($"The {id} corruption works on images shaped [channels, height, width], not [{string.Join(", ", sampleShape)}].", nameof(sampleShape));
        return (sampleShape[0], sampleShape[1], sampleShape[2]);
    }

    /// <summary>
    /// A generator for the operator's own randomness (a mask, a kernel), seeded from the run's
    /// seed mixed with a purpose, so that the mask is not the same stream as the solver's noise.
    /// </summary>
    protected static Generator SeededGenerator(int seed, string purpose)
    {
        ulong mixed = unchecked((ulong)(uint)seed * 0x9E3779B97F4A7C15UL);
        foreach (char c in purpose) mixed = unchecked((mixed ^ c) * 0x100000001B3UL); // FNV-1a over the purpose
        return new Generator(mixed & 0x7FFF_FFFF_FFFF_FFFFUL);
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var t in owned) t.Dispose();
        owned.Clear();
        GC.SuppressFinalize(this);
    }

    void RequireSampleShape(Tensor t, long[] sampleShape, string what)
    {
        var shape = t.shape;
        bool matches = shape.Length == sampleShape.Length + 1 && shape.Skip(1).SequenceEqual(sampleShape);
        if (!matches)
            throw new ArgumentException(
                $"The {Id} corruption expects a batch of {what}s shaped [B, {string.Join(", ", sampleShape)}], got [{string.Join(", ", shape)}].");
    }
}
