using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine;

/// <summary>
/// Tensor–number arithmetic whose number lives until libtorch has read it.
/// <para>
/// TorchSharp turns a number in <c>x * 0.5</c>, <c>x.clamp(-1, 1)</c> or <c>full(n, t)</c> into a
/// native <see cref="Scalar"/> that only its finalizer frees, and dispose scopes do not track it.
/// Once TorchSharp has read its handle nothing references it, so a garbage collection during the
/// native call can free it while libtorch still reads it: "Unknown scalar type", "Expected false to
/// be true", or silently wrong numbers. Each method here holds the Scalar in a <c>using</c> around
/// the call. The engine bans the implicit conversions and the number operators (BannedSymbols.txt),
/// so the compiler points at any new site.
/// </para>
/// </summary>
public static class ScalarArithmetic
{
    // TorchSharp's own add(Tensor) and square() pass the constants 1 and 2 as fresh, unkept
    // Scalars; these live as long as the process, so calls that use them cannot lose them.
    static readonly Scalar One = 1.ToScalar();
    static readonly Scalar Two = 2.ToScalar();

    /// <summary>x + y (TorchSharp's <c>x + y</c>, with a kept alpha of 1).</summary>
    public static Tensor Plus(this Tensor x, Tensor y) => x.add(y, One);

    /// <summary>x ← x + y, in place.</summary>
    public static Tensor PlusInPlace(this Tensor x, Tensor y) => x.add_(y, One);

    /// <summary>x², elementwise (TorchSharp's <c>square()</c>, which is <c>pow(2)</c>).</summary>
    public static Tensor Squared(this Tensor x) => x.pow(Two);

    /// <summary>x · c.</summary>
    public static Tensor Times(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.mul(s);
    }

    /// <summary>x / c.</summary>
    public static Tensor DividedBy(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.div(s);
    }

    /// <summary>x + c.</summary>
    public static Tensor Plus(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.add(s, One);
    }

    /// <summary>x − c.</summary>
    public static Tensor Minus(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.sub(s);
    }

    /// <summary>c − x, computed as TorchSharp's <c>c - x</c> does: (−x) + c.</summary>
    public static Tensor SubtractedFrom(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        using var negated = x.negative();
        return negated.add(s, One);
    }

    /// <summary>x clamped to [min, max].</summary>
    public static Tensor Clamped(this Tensor x, double min, double max)
    {
        using var low = min.ToScalar();
        using var high = max.ToScalar();
        return x.clamp(low, high);
    }

    /// <summary>max(x, min) elementwise.</summary>
    public static Tensor AtLeast(this Tensor x, double min)
    {
        using var s = min.ToScalar();
        return x.clamp_min(s);
    }

    /// <summary>x == c elementwise, a boolean tensor.</summary>
    public static Tensor EqualTo(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.eq(s);
    }

    /// <summary>x &lt; c elementwise, a boolean tensor.</summary>
    public static Tensor LessThan(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.lt(s);
    }

    /// <summary>x ← x · c, in place.</summary>
    public static Tensor TimesInPlace(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.mul_(s);
    }

    /// <summary>x ← x + c, in place.</summary>
    public static Tensor PlusInPlace(this Tensor x, double c)
    {
        using var s = c.ToScalar();
        return x.add_(s, One);
    }

    /// <summary>x ← x + c · other, in place (TorchSharp's <c>add_(other, alpha: c)</c>).</summary>
    public static Tensor PlusScaledInPlace(this Tensor x, Tensor other, double c)
    {
        using var s = c.ToScalar();
        return x.add_(other, s);
    }

    /// <summary>x with the entries where <paramref name="mask"/> is true set to c.</summary>
    public static Tensor FilledWhere(this Tensor x, Tensor mask, double c)
    {
        using var s = c.ToScalar();
        return x.masked_fill(mask, s);
    }

    /// <summary>A tensor of the given shape with every entry c.</summary>
    public static Tensor Full(long[] shape, double c, ScalarType dtype, Device? device = null)
    {
        using var s = c.ToScalar();
        return full(shape, s, dtype, device);
    }

    /// <summary>A tensor of the given shape with every entry c, for integer tensors such as timestep batches.</summary>
    public static Tensor Full(long[] shape, long c, ScalarType dtype, Device? device = null)
    {
        using var s = c.ToScalar();
        return full(shape, s, dtype, device);
    }
}
