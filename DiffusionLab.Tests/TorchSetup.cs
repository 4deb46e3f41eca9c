using DiffusionLab.Engine;
using System.Runtime.CompilerServices;

namespace DiffusionLab.Tests;

static class TorchSetup
{
    // Tests may touch torch before any engine type: load the native fix first.
#pragma warning disable CA2255 // tests may touch torch before any engine type
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialise() => DiffusionLab.Engine.TorchRuntime.EnsureInitialised();
}
