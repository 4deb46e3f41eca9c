using DiffusionLab.Web.Runs;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The save spool: finished runs and batches in files beside the store until the store has them.
/// A file reads back as the run that was written, the spool refuses past its bounds in words, a
/// damaged or foreign file is set aside instead of read, and a lab that starts on a spool a killed
/// server left saves every run in it exactly once, also one the store already had.
/// </summary>
public sealed class SaveSpoolTests : IDisposable
{
    const string Mine = "0123456789abcdef0123456789abcdef";
    readonly string folder = Directory.CreateTempSubdirectory("spool-").FullName;

    string DatabaseFile => Path.Combine(folder, "runs.db");
    string SpoolFolder => SaveSpool.FolderFor(DatabaseFile);
    string SetAside => Path.Combine(SpoolFolder, SaveSpool.SetAsideFolder);

    SaveSpool Spool(int maxItems = 64, long maxBytes = 1L << 30) => new(SpoolFolder, maxItems, maxBytes, NullLogger.Instance);

    IEnumerable<string> Waiting() => Directory.EnumerateFiles(SpoolFolder, "*.spool");

    static SavedDiversity Batch(string id) => new(id, "prior=gmm-image&solver=dps&steps=5&seed=1&n=3", "dps", 3,
        DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), 2.5, 21.5, double.NaN, 0.25, 0.75,
        [[1, 2, 3], [4, 5], [6]], [7, 8], null, [9], [10, 11], Mine);

    [Fact]
    public void A_spooled_run_and_batch_read_back_whole_in_a_spool_opened_again()
    {
        var run = RunStoreTests.Run("abc123", steps: 7);
        var batch = Batch("def456");
        var spool = Spool();
        Assert.NotNull(spool.TryAdd(run, out _));
        Assert.NotNull(spool.TryAdd(batch, out _));

        var reopened = Spool(); // as the next server finds them
        var left = reopened.Leftovers();
        Assert.Equal(2, left.Count);
        Assert.Equal((2, left.Sum(e => e.Bytes)), reopened.Usage());
        var back = Assert.IsType<SavedRun>(reopened.Read(left[0])); // oldest first
        Assert.Equal((run.Id, run.SpecQuery, run.Status, run.FinishedAt, run.Timings, run.Owner), (back.Id, back.SpecQuery, back.Status, back.FinishedAt, back.Timings, back.Owner));
        Assert.Equal(run.Metrics, back.Metrics); // NaN metrics come back as NaN
        Assert.Equal(run.Keyframes.Select(k => (k.Step, k.Total, k.Timestep, k.IsFinal, k.NetworkEvaluations, k.Psnr, k.Ssim)),
            back.Keyframes.Select(k => (k.Step, k.Total, k.Timestep, k.IsFinal, k.NetworkEvaluations, k.Psnr, k.Ssim)));
        Assert.Equal(run.Keyframes.Select(k => k.X0Hat!.Png), back.Keyframes.Select(k => k.X0Hat!.Png));
        Assert.Equal(run.Keyframes.Select(k => k.Xt!.Png), back.Keyframes.Select(k => k.Xt!.Png));
        Assert.Equal(run.GroundTruthPng, back.GroundTruthPng);
        Assert.Equal(run.PayloadBytes, back.PayloadBytes);

        var backBatch = Assert.IsType<SavedDiversity>(reopened.Read(left[1]));
        Assert.Equal(batch.SamplePngs, backBatch.SamplePngs);
        Assert.Equal((batch.Id, batch.Count, batch.MeanPsnr, batch.StdMax, batch.Owner), (backBatch.Id, backBatch.Count, backBatch.MeanPsnr, backBatch.StdMax, backBatch.Owner));
        Assert.Equal(batch.StdPng, backBatch.StdPng);
        Assert.Null(backBatch.MeasurementPng);
        Assert.True(double.IsNaN(backBatch.MeanSsim));

        foreach (var entry in left) reopened.Remove(entry);
        Assert.Empty(Waiting());
        Assert.Equal((0, 0L), reopened.Usage());
    }

    [Fact]
    public void The_spool_refuses_past_its_count_and_its_bytes_and_says_why()
    {
        var spool = Spool(maxItems: 2);
        var first = spool.TryAdd(RunStoreTests.Run("r1"), out _);
        Assert.NotNull(first);
        Assert.NotNull(spool.TryAdd(RunStoreTests.Run("r2"), out _));
        Assert.Null(spool.TryAdd(RunStoreTests.Run("r3"), out var refusal));
        Assert.Contains("2 finished runs are already waiting", refusal);
        Assert.Equal(2, Waiting().Count());
        spool.Remove(first!); // the store took one: there is room again
        Assert.NotNull(spool.TryAdd(RunStoreTests.Run("r3"), out _));

        var small = new SaveSpool(Path.Combine(folder, "small.spool"), 64, 60_000, NullLogger.Instance); // one such run is about 33 kB as a file
        Assert.NotNull(small.TryAdd(RunStoreTests.Run("big1", imageBytes: 3000), out _));
        Assert.Null(small.TryAdd(RunStoreTests.Run("big2", imageBytes: 3000), out var full));
        Assert.Contains("MB of finished runs are already waiting", full);
    }

    [Fact]
    public void A_damaged_or_foreign_spool_file_is_set_aside_and_not_read()
    {
        var spool = Spool();
        Assert.NotNull(spool.TryAdd(RunStoreTests.Run("flipped"), out _));
        Assert.NotNull(spool.TryAdd(RunStoreTests.Run("cut"), out _));
        var files = Waiting().Order(StringComparer.Ordinal).ToArray();
        var flipped = File.ReadAllBytes(files[0]);
        flipped[^10] ^= 0x20; // one bit of the body
        File.WriteAllBytes(files[0], flipped);
        var cut = File.ReadAllBytes(files[1]);
        File.WriteAllBytes(files[1], cut[..(cut.Length / 2)]);
        File.WriteAllText(Path.Combine(SpoolFolder, "9999-run-notours.spool"), "{\"Id\": \"x\"}");

        var reopened = Spool();
        var left = reopened.Leftovers();
        Assert.Equal(3, left.Count);
        Assert.All(left, entry => Assert.Null(reopened.Read(entry)));
        Assert.Empty(Waiting());
        Assert.Equal(3, Directory.EnumerateFiles(SetAside).Count());
        Assert.Equal((0, 0L), reopened.Usage());
    }

    [Fact]
    public void A_lab_started_on_a_killed_servers_spool_saves_each_run_once_and_sets_a_damaged_file_aside()
    {
        // The last server committed run A and was killed before deleting its spool file; run B was
        // still waiting; one file is damaged; one was half written when the server died.
        var a = RunStoreTests.Run("runa", steps: 6);
        var b = RunStoreTests.Run("runb", steps: 4);
        using (var store = new RunStore(new RunStoreOptions { Path = DatabaseFile })) Assert.True(store.Save(a));
        var spool = Spool();
        Assert.NotNull(spool.TryAdd(a, out _));
        Assert.NotNull(spool.TryAdd(b, out _));
        File.WriteAllText(Path.Combine(SpoolFolder, "0000000000000000001-run-broken.spool"), "diffusionlab-spool 1 run 00\n{");
        File.WriteAllText(Path.Combine(SpoolFolder, "0000000000000000002-run-half.tmp"), "diffusionlab-spool 1 run");

        void StartAndWaitForTheSpool()
        {
            using var server = new LabServer(DatabaseFile);
            Assert.True(SpinWait.SpinUntil(() => !Waiting().Any(), TimeSpan.FromSeconds(60)), "the spool was not replayed: " + string.Join(", ", Waiting()));
            Assert.Equal(["runa", "runb"], server.Store.List().Select(r => r.Id).Order(StringComparer.Ordinal));
            var back = server.Store.Get("runa")!;
            Assert.Equal(a.Metrics, back.Metrics);
            Assert.Equal(a.Keyframes.Select(k => k.X0Hat!.Png), back.Keyframes.Select(k => k.X0Hat!.Png));
        }

        StartAndWaitForTheSpool();
        Assert.Equal(["0000000000000000001-run-broken.spool"], Directory.EnumerateFiles(SetAside).Select(Path.GetFileName));
        Assert.Empty(Directory.EnumerateFiles(SpoolFolder, "*.tmp"));

        // Killed again after committing A once more: replaying it a second time changes nothing.
        Assert.NotNull(Spool().TryAdd(a, out _));
        StartAndWaitForTheSpool();
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
