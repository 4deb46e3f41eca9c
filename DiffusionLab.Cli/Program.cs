using DiffusionLab.Engine;

namespace DiffusionLab.Cli;

// In a namespace, not top-level statements: the tests see this assembly's internals, and a global
// Program would clash with the web app's, which the integration tests start by that name.
static class Program
{
    static int Main(string[] args)
    {
        TorchRuntime.EnsureInitialised();
        return CliApp.Run(args);
    }
}
