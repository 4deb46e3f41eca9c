using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// Holds a run once it has reached a step, until <see cref="Release"/> (or Dispose), so a test can
/// act while the run is surely still going, on a fast machine too. Changed is raised on the run's
/// solver or encoder thread, and a run is not over while either is held (it ends once the encoder
/// has sent its last frame).
/// </summary>
sealed class RunHold : IDisposable
{
    readonly ManualResetEventSlim release = new(false); // not disposed: a held thread may still be leaving Wait
    int held;

    public RunHold(LabRun run, int step) =>
        run.Changed += r =>
        {
            if (r.Latest is { } latest && latest.Step >= step && Interlocked.Exchange(ref held, 1) == 0)
                release.Wait(TimeSpan.FromSeconds(60));
        };

    public bool IsHeld => Volatile.Read(ref held) == 1;

    public void Release() => release.Set();

    public void Dispose() => Release();
}
