using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Engine;

/// <summary>The device a setting asks for cannot be used; the message is one line that names the setting and its value.</summary>
public sealed class DeviceUnavailableException(string message) : Exception(message);

/// <summary>
/// Where the networks compute: one setting, read once per process, and the one place that turns
/// "auto", "cpu", "cuda" or "cuda:N" into a TorchSharp device. The web app reads it from
/// <c>Engine:Device</c>, the console tool from <c>--device</c>, and both from
/// <c>DIFFUSIONLAB_DEVICE</c> when those are not given. A setting that asks for CUDA on a machine
/// where libtorch sees none is refused in words rather than quietly run on the CPU: a lab that says it
/// serves from a GPU and does not would mislead everyone timing it.
/// </summary>
/// <remarks>
/// Every network (the priors, the trainer's network, bench's models) is made on <see cref="Current"/>;
/// solvers make their tensors on the prior's device (<c>IDenoiser.Device</c>), and tensors leave the
/// device in one place, when a step's images and metrics are copied out (StepImage, the image codecs).
/// Random numbers are drawn on the CPU from the run's seeded generators and then moved, so a seed gives
/// the same run on either device. The exact Gaussian mixtures (and the 2-D lab built on them) stay on the
/// CPU on purpose: they are float64 closed forms over a few dimensions, which a GPU would only slow down.
/// </remarks>
public static class ComputeDevice
{
    /// <summary>The environment variable both programs read when their own setting is absent.</summary>
    public const string EnvironmentVariable = "DIFFUSIONLAB_DEVICE";

    static readonly object Gate = new();
    static Device current = CPU;
    static string description = "cpu";

    /// <summary>The device networks are made on in this process (the CPU until <see cref="Use"/> picks another).</summary>
    public static Device Current { get { lock (Gate) return current; } }

    /// <summary>What serves this process, in words for a footer ("cpu", "cuda:0 (NVIDIA …)" where TorchSharp can say).</summary>
    public static string Description { get { lock (Gate) return description; } }

    /// <summary>
    /// Resolves <paramref name="value"/> (null or blank means the environment variable, then "auto") and makes it
    /// <see cref="Current"/>. <paramref name="settingName"/> is how the user gave it ("--device", "Engine:Device"),
    /// named in the message when the value cannot be used.
    /// </summary>
    /// <exception cref="DeviceUnavailableException">The value is not a device name, or names a CUDA device libtorch does not see.</exception>
    public static Device Use(string? value, string settingName)
    {
        var (device, words) = Resolve(value, settingName);
        lock (Gate)
        {
            current = device;
            description = words;
        }
        return device;
    }

    /// <summary>The device a setting names, without changing <see cref="Current"/>.</summary>
    public static (Device Device, string Description) Resolve(string? value, string settingName)
    {
        TorchRuntime.EnsureInitialised();
        var source = settingName;
        if (string.IsNullOrWhiteSpace(value))
        {
            value = Environment.GetEnvironmentVariable(EnvironmentVariable);
            source = EnvironmentVariable;
        }
        var requested = string.IsNullOrWhiteSpace(value) ? "auto" : value.Trim().ToLowerInvariant();
        int available = CudaDevices();
        switch (requested)
        {
            case "auto":
                return available > 0 ? (new Device(DeviceType.CUDA, 0), "cuda:0 (auto)") : (CPU, "cpu (auto: no CUDA device)");
            case "cpu":
                return (CPU, "cpu");
        }
        int index;
        if (requested == "cuda") index = 0;
        else if (requested.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(requested.AsSpan(5), System.Globalization.NumberStyles.None, null, out var n)) index = n;
        else throw new DeviceUnavailableException($"{source} is \"{value}\": a device is auto, cpu, cuda or cuda:N (N = 0, 1, …).");
        if (available == 0)
            throw new DeviceUnavailableException($"{source} is \"{value}\", but libtorch sees no CUDA device here (a CPU-only build, or no NVIDIA GPU and driver); set {source} to auto or cpu, or run the CUDA build (TORCH_RUNTIME=cuda) on a machine with an NVIDIA GPU.");
        if (index >= available)
            throw new DeviceUnavailableException($"{source} is \"{value}\", but libtorch sees {available} CUDA device{(available == 1 ? "" : "s")} (cuda:0{(available > 1 ? $" to cuda:{available - 1}" : "")}).");
        return (new Device(DeviceType.CUDA, index), $"cuda:{index}");
    }

    /// <summary>How many CUDA devices libtorch sees; 0 with the CPU-only libtorch (which may also refuse to be asked).</summary>
    static int CudaDevices()
    {
        try { return cuda.is_available() ? cuda.device_count() : 0; }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or DllNotFoundException or EntryPointNotFoundException or ExternalException)
        {
            return 0;
        }
    }
}
