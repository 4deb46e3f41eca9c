using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace DiffusionLab.Engine;

/// <summary>
/// Prepares libtorch once per process, before the first tensor is made.
/// </summary>
/// <remarks>
/// Two facts about TorchSharp 0.107.0 on these machines (docs/torchsharp.md §1 and §3):
/// on Debian 12 the native library needs a symbol that its libstdc++ lacks, which the
/// build supplies as a small shim library that must be loaded globally first; and with
/// more than one intra-op thread, conv2d input gradients are occasionally NaN under
/// load, so the engine runs libtorch with one thread and gets parallelism from running
/// several solver runs (or a batch) at once instead.
/// </remarks>
public static class TorchRuntime
{
    const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
    static readonly object Gate = new();
    static bool initialised;

    /// <summary>Intra-op threads libtorch uses; 1 unless DIFFUSIONLAB_TORCH_THREADS says otherwise.</summary>
    public static int Threads { get; private set; } = 1;

#pragma warning disable CA2255 // deliberate: libtorch must be prepared before any engine type touches it
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void InitialiseOnLoad() => EnsureInitialised();

    public static void EnsureInitialised()
    {
        lock (Gate)
        {
            if (initialised) return;
            initialised = true;
            LoadLibStdCxxShim();
            var fromEnvironment = Environment.GetEnvironmentVariable("DIFFUSIONLAB_TORCH_THREADS");
            SetThreads(int.TryParse(fromEnvironment, out var n) && n > 0 ? n : 1);
        }
    }

    /// <summary>Sets libtorch's intra-op thread count (training may use more than the solvers).</summary>
    public static void SetThreads(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), "at least one thread");
        Threads = threads;
        torch.set_num_threads(threads);
    }

    static void LoadLibStdCxxShim()
    {
        if (!OperatingSystem.IsLinux()) return;
        foreach (var folder in new[] { Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), AppContext.BaseDirectory })
        {
            var shim = Path.Combine(folder, "libdiffusionlab_iosinit.so");
            if (!File.Exists(shim)) continue;
            if (dlopen(shim, RTLD_NOW | RTLD_GLOBAL) == IntPtr.Zero)
                throw new InvalidOperationException($"Could not load {shim}: {Marshal.PtrToStringAnsi(dlerror())}");
            return;
        }
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    static extern IntPtr dlopen(string fileName, int flags);

    [DllImport("libc", EntryPoint = "dlerror")]
    static extern IntPtr dlerror();
}
