using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Tests.Web;

public sealed class RunStoreTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("runstore-").FullName;

    string DatabaseFile => Path.Combine(folder, "runs.db");

    RunStore Open(int maxRuns = 100, long maxBytes = 100_000_000, int runsPerBrowser = 50) =>
        new(new RunStoreOptions { Path = DatabaseFile, MaxRuns = maxRuns, MaxBytes = maxBytes, RunsPerBrowser = runsPerBrowser });

    /// <summary>Two browsers' ids (BrowserIdentity): the runs here are made by the first.</summary>
    const string Mine = "0123456789abcdef0123456789abcdef", Theirs = "fedcba9876543210fedcba9876543210";

    internal static SavedRun Run(string id, int steps = 5, int imageBytes = 100) => new(
        id, $"prior=gmm-image&solver=dps&steps={steps}&seed=1", "dps", "Finished", null,
        DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000), new SavedTimings(12.5, 40, 900, steps),
        Enumerable.Range(0, steps).Select(i => new StepRecord { Step = i, Residual = 1.0 / (i + 1), Psnr = 20 + i, Ssim = 0.5 + i / 100.0, ElapsedMs = i * 100 }).ToArray(),
        Enumerable.Range(0, steps).Where(i => i % 2 == 0 || i == steps - 1).Select(i => new StepRecord
        {
            Step = i, Total = steps, Timestep = 999 - i, Xt = StepImage.FromPng(Bytes(imageBytes, i)), X0Hat = StepImage.FromPng(Bytes(imageBytes, i + 1)),
            Residual = 1.0 / (i + 1), Psnr = 20 + i, Ssim = double.NaN, ElapsedMs = i * 100, IsFinal = i == steps - 1,
            NetworkEvaluations = 2 * (i + 1),
        }).ToArray(),
        Bytes(imageBytes, 7), Bytes(imageBytes, 8), Mine);

    /// <summary>Runs SQL on the store's file directly, to make it look like one an earlier schema wrote.</summary>
    void AlterFile(string sql)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    static byte[] Bytes(int count, int seed) => Enumerable.Range(0, count).Select(i => (byte)(i * 31 + seed)).ToArray();

    [Fact]
    public void ANewStoreOnTheSameFileStillHasEveryFinishedRun()
    {
        var original = Run("abc123", steps: 7);
        using (var store = Open()) Assert.True(store.Save(original));

        using var reopened = Open();
        var summary = Assert.Single(reopened.List());
        Assert.Equal(("abc123", original.SpecQuery, 7, 26.0, Mine), (summary.Id, summary.SpecQuery, summary.Steps, summary.FinalPsnr, summary.Owner));
        var back = reopened.Get("abc123")!;
        Assert.Equal(original.Metrics, back.Metrics);
        Assert.Equal(original.Timings, back.Timings);
        Assert.Equal(original.GroundTruthPng, back.GroundTruthPng);
        Assert.Equal(original.Keyframes.Select(k => (k.Step, k.Timestep, k.IsFinal, k.NetworkEvaluations)),
            back.Keyframes.Select(k => (k.Step, k.Timestep, k.IsFinal, k.NetworkEvaluations)));
        Assert.Equal(original.Keyframes[^1].X0Hat!.Png, back.Keyframes[^1].X0Hat!.Png);
        Assert.True(double.IsNaN(back.Keyframes[0].Ssim)); // NaN metrics survive as "not measured"
        Assert.Equal(Mine, back.Owner);
    }

    [Fact]
    public void AStoreFromBeforeNetworkEvaluationsWereKeptOpensAndKeepsItsRuns()
    {
        using (var store = Open()) Assert.True(store.Save(Run("old")));
        // Make the file look like one written by the earlier schema, before versions were kept: keyframes without the column.
        AlterFile("ALTER TABLE keyframes DROP COLUMN network_evaluations; PRAGMA user_version = 0;");

        using var reopened = Open();
        Assert.All(reopened.Get("old")!.Keyframes, k => Assert.Equal(0, k.NetworkEvaluations)); // not recorded then
        Assert.True(reopened.Save(Run("new")));
        Assert.Equal(10, reopened.Get("new")!.Keyframes[^1].NetworkEvaluations);
    }

    static SavedDiversity Batch(string id, int count = 4, int imageBytes = 100, long finishedMs = 1_700_000_000_000) => new(
        id, $"prior=gmm-image&solver=dps&steps=25&seed=5&n={count}", "dps", count, DateTimeOffset.FromUnixTimeMilliseconds(finishedMs),
        1.5, 30.25, 0.81, 0.125, 0.0625, Enumerable.Range(0, count).Select(i => Bytes(imageBytes + i, i)).ToArray(),
        Bytes(imageBytes, 20), Bytes(imageBytes, 21), Bytes(imageBytes, 22), Bytes(imageBytes, 23), Mine);

    [Fact]
    public void ADiversityBatchComesBackWholeAfterAReopen()
    {
        var original = Batch("div1", count: 5);
        using (var store = Open()) Assert.True(store.Save(original));

        using var reopened = Open();
        var summary = Assert.Single(reopened.ListDiversity());
        Assert.Equal(("div1", original.SpecQuery, 5, 30.25, 0.0625), (summary.Id, summary.SpecQuery, summary.Count, summary.MeanPsnr, summary.StdMax));
        var back = reopened.GetDiversity("div1")!;
        Assert.Equal(original.SamplePngs, back.SamplePngs); // five images of different lengths, unpacked in order
        Assert.Equal(new[] { original.MeanPng, original.StdPng, original.GroundTruthPng, original.MeasurementPng },
            new[] { back.MeanPng, back.StdPng, back.GroundTruthPng, back.MeasurementPng });
        Assert.Equal((original.MeanSsim, original.MeanResidual, original.Seconds), (back.MeanSsim, back.MeanResidual, back.Seconds));
        Assert.Empty(reopened.List()); // a batch is not a run

        Assert.Null(reopened.GetDiversity("'; DROP TABLE diversity_batches; --"));
        Assert.Equal((Mine, Mine), (summary.Owner, back.Owner));
        Assert.False(reopened.DeleteDiversity("div1", Theirs)); // another browser cannot delete it
        Assert.NotNull(reopened.GetDiversity("div1"));
        Assert.True(reopened.DeleteDiversity("div1", Mine));
        Assert.False(reopened.DeleteDiversity("div1", Mine));
        Assert.Null(reopened.GetDiversity("div1"));
    }

    [Fact]
    public void RunsAndDiversityBatchesShareTheCapsAndTheOldestOfEitherGoesFirst()
    {
        using var store = Open(maxRuns: 3);
        store.Save(Batch("b-old", finishedMs: 1_600_000_000_000));
        store.Save(Run("r1"));
        store.Save(Run("r2"));
        Assert.Equal(3, store.Usage().Runs);
        store.Save(Batch("b-new", finishedMs: 1_800_000_000_000));
        Assert.Null(store.GetDiversity("b-old")); // the oldest of the four, although it is not a run
        Assert.Equal(["r2", "r1"], store.List().Select(r => r.Id));
        Assert.Equal(["b-new"], store.ListDiversity().Select(b => b.Id));
        Assert.Equal(3, store.Usage().Runs);
    }

    [Fact]
    public void TheOldestRunsGoFirstWhenTheCountCapIsReached()
    {
        using var store = Open(maxRuns: 3);
        foreach (var id in new[] { "r1", "r2", "r3", "r4", "r5" }) store.Save(Run(id));
        Assert.Equal(["r5", "r4", "r3"], store.List().Select(r => r.Id));
        Assert.Null(store.Get("r1"));
    }

    [Fact]
    public void TheStoreStaysUnderItsByteCap()
    {
        var size = Run("x", imageBytes: 5_000).PayloadBytes;
        using var store = Open(maxBytes: size * 4 + size / 2);
        for (int i = 0; i < 12; i++)
        {
            Assert.True(store.Save(Run("run" + i, imageBytes: 5_000)));
            Assert.True(store.Usage().PayloadBytes <= store.MaxBytes);
        }
        Assert.Equal(["run11", "run10", "run9", "run8"], store.List().Select(r => r.Id));
        // A run larger than the whole cap is refused rather than emptying the store for nothing.
        Assert.False(store.Save(Run("huge", imageBytes: (int)store.MaxBytes)));
        Assert.Equal(4, store.Usage().Runs);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("no-such-run")]
    [InlineData("'; DROP TABLE runs; --")]
    [InlineData("%00\u0000\uFFFF")]
    public void BadIdsAreNotFoundAndLeaveTheStoreAlone(string? id)
    {
        using var store = Open();
        store.Save(Run("kept"));
        Assert.Null(store.Get(id));
        Assert.False(store.Delete(id, Mine));
        Assert.False(store.Delete("kept", id)); // nor as an owner
        Assert.Null(store.Get(new string('x', 100_000)));
        Assert.Equal(["kept"], store.List().Select(r => r.Id));
    }

    [Fact]
    public void DeleteRemovesARunAndItsKeyframes()
    {
        using var store = Open();
        store.Save(Run("a"));
        store.Save(Run("b"));
        Assert.True(store.Delete("a", Mine));
        Assert.Null(store.Get("a"));
        Assert.False(store.Delete("a", Mine));
        Assert.Equal(["b"], store.List().Select(r => r.Id));
        Assert.Equal(Run("b").Keyframes.Count, store.Get("b")!.Keyframes.Count);
    }

    [Fact]
    public void OnlyTheBrowserThatMadeARunCanDeleteIt()
    {
        using var store = Open();
        store.Save(Run("mine"));
        store.Save(Run("legacy") with { Owner = null }); // saved before owners were recorded

        Assert.False(store.Delete("mine", Theirs));
        Assert.False(store.Delete("mine", null));
        Assert.False(store.Delete("mine", Mine.ToUpperInvariant())); // not an id this server makes
        Assert.False(store.Delete("legacy", Mine));
        Assert.False(store.Delete("legacy", null));
        Assert.Equal(["legacy", "mine"], store.List().Select(r => r.Id).Order());
        Assert.Null(store.List().Single(r => r.Id == "legacy").Owner);

        Assert.True(store.Delete("mine", Mine));
        Assert.Equal(["legacy"], store.List().Select(r => r.Id));
    }

    [Fact]
    public void AStoreFromBeforeOwnersWereRecordedOpensAndKeepsItsRunsWithoutAnOwner()
    {
        using (var store = Open()) Assert.True(store.Save(Run("old")));
        AlterFile("ALTER TABLE runs DROP COLUMN owner; ALTER TABLE diversity_batches DROP COLUMN owner; PRAGMA user_version = 0;");

        using var reopened = Open();
        Assert.Null(reopened.Get("old")!.Owner);
        Assert.False(reopened.Delete("old", Mine));
        Assert.True(reopened.Save(Run("new")));
        Assert.Equal(Mine, reopened.Get("new")!.Owner);
        Assert.True(reopened.Delete("new", Mine));
    }

    [Fact]
    public void FiveHundredRunsFromOneBrowserPushOutOnlyItsOwnOldest()
    {
        using var store = Open(maxRuns: 500, runsPerBrowser: 50); // the lab's defaults
        store.Save(Run("mine", steps: 1));
        store.Save(Batch("my-batch", count: 1));
        for (var i = 0; i < 500; i++) store.Save(Run("theirs" + i, steps: 1) with { Owner = Theirs });

        Assert.NotNull(store.Get("mine"));
        Assert.NotNull(store.GetDiversity("my-batch"));
        var theirs = store.List(1000).Where(r => r.Owner == Theirs).Select(r => r.Id).ToList();
        Assert.Equal(Enumerable.Range(450, 50).Reverse().Select(i => "theirs" + i), theirs); // their newest 50, newest first
    }

    [Fact]
    public void AFullStoreTakesTheOldestOfTheBrowserHoldingTheMost()
    {
        const string Third = "00000000000000000000000000000003";
        using var store = Open(maxRuns: 6, runsPerBrowser: 4);
        store.Save(Run("mine1"));
        store.Save(Run("mine2"));
        store.Save(Run("legacy") with { Owner = null }); // no owner: a line of its own
        foreach (var i in new[] { 1, 2, 3 }) store.Save(Run("theirs" + i) with { Owner = Theirs });
        store.Save(Run("third1") with { Owner = Third }); // seven in all: one too many

        Assert.Equal(6, store.Usage().Runs);
        Assert.Null(store.Get("theirs1")); // the browser with the most gave up its oldest, though mine are older
        Assert.Equal(["legacy", "mine1", "mine2", "theirs2", "theirs3", "third1"], store.List().Select(r => r.Id).Order());
    }

    [Fact]
    public void OverTheByteCapTheBrowserHoldingTheMostBytesGivesUpItsOldestAndTheNewRunStays()
    {
        const string Third = "00000000000000000000000000000003";
        var big = Run("big", imageBytes: 20_000) with { Owner = Third };
        using var small = Open(maxRuns: 100, maxBytes: big.PayloadBytes + 3 * Run("x").PayloadBytes);
        foreach (var id in new[] { "a", "b", "c" }) small.Save(Run(id));
        small.Save(Run("huge", imageBytes: 10_000) with { Owner = Theirs });
        small.Save(big);
        Assert.NotNull(small.Get("big"));
        Assert.Null(small.Get("huge"));
        Assert.Equal(["a", "b", "big", "c"], small.List().Select(r => r.Id).Order());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
