using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;
using Microsoft.Data.Sqlite;
using System.Buffers.Binary;

namespace DiffusionLab.Tests.Web;

/// <summary>The store's numbered schema steps, and the stores written before versions were kept.</summary>
public sealed class RunStoreSchemaTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("runstore-schema-").FullName;

    string DatabaseFile => Path.Combine(folder, "runs.db");

    const string Mine = "0123456789abcdef0123456789abcdef";

    /// <summary>The schema steps after the last store without versions (it had steps 1 to 5), as they add columns.</summary>
    const string StepsSinceUnversioned = """
        ALTER TABLE keyframes ADD COLUMN t REAL;
        """;

    /// <summary>
    /// The tables as the last store without schema versions made them (user_version 0), its CREATE
    /// statements as they were: every column added since the first version written in.
    /// </summary>
    const string UnversionedSchema = """
        PRAGMA auto_vacuum = INCREMENTAL;
        PRAGMA journal_mode = WAL;
        CREATE TABLE IF NOT EXISTS runs (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            spec TEXT NOT NULL,
            solver TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            finished_utc INTEGER NOT NULL,
            queue_ms REAL NOT NULL,
            first_frame_ms REAL,
            total_ms REAL NOT NULL,
            frames_produced INTEGER NOT NULL,
            steps INTEGER NOT NULL,
            final_psnr REAL,
            final_ssim REAL,
            final_residual REAL,
            ground_truth BLOB,
            measurement BLOB,
            metrics BLOB NOT NULL,
            payload_bytes INTEGER NOT NULL,
            owner TEXT);
        CREATE TABLE IF NOT EXISTS keyframes (
            run_seq INTEGER NOT NULL,
            ordinal INTEGER NOT NULL,
            step INTEGER NOT NULL,
            total INTEGER NOT NULL,
            timestep INTEGER NOT NULL,
            mime TEXT NOT NULL,
            xt BLOB NOT NULL,
            x0hat BLOB NOT NULL,
            residual REAL, psnr REAL, ssim REAL,
            elapsed_ms REAL NOT NULL,
            is_final INTEGER NOT NULL,
            network_evaluations INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_seq, ordinal));
        CREATE TABLE IF NOT EXISTS diversity_batches (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            spec TEXT NOT NULL,
            solver TEXT NOT NULL,
            count INTEGER NOT NULL,
            finished_utc INTEGER NOT NULL,
            seconds REAL NOT NULL,
            mean_psnr REAL, mean_ssim REAL, mean_residual REAL, std_max REAL,
            samples BLOB NOT NULL,
            ground_truth BLOB, measurement BLOB, mean BLOB, std BLOB,
            payload_bytes INTEGER NOT NULL,
            owner TEXT);
        """;

    /// <summary>
    /// The oldest file a lab may find: the tables as the store's first version made them, before any
    /// column was added and before diversity batches were kept.
    /// </summary>
    const string FirstSchema = UnversionedSchema + """
        ALTER TABLE runs DROP COLUMN owner;
        ALTER TABLE keyframes DROP COLUMN network_evaluations;
        DROP TABLE diversity_batches;
        """;

    static readonly StepRecord[] LegacyMetrics =
    [
        new() { Step = 0, Residual = 0.5, Psnr = 18, Ssim = 0.4, ElapsedMs = 100 },
        new() { Step = 1, Residual = 0.25, Psnr = 20, Ssim = 0.45, ElapsedMs = 200 },
        new() { Step = 2, Residual = 0.125, Psnr = 22, Ssim = 0.5, ElapsedMs = 300 },
    ];

    /// <summary>A run as the old code wrote it, with raw SQL: two keyframes, the first without an SSIM.</summary>
    void WriteLegacyRun(bool hasOwnersAndEvaluations)
    {
        var metrics = new byte[LegacyMetrics.Length * 36];
        for (int i = 0; i < LegacyMetrics.Length; i++)
        {
            var span = metrics.AsSpan(i * 36);
            BinaryPrimitives.WriteInt32LittleEndian(span, LegacyMetrics[i].Step);
            BinaryPrimitives.WriteDoubleLittleEndian(span[4..], LegacyMetrics[i].Residual);
            BinaryPrimitives.WriteDoubleLittleEndian(span[12..], LegacyMetrics[i].Psnr);
            BinaryPrimitives.WriteDoubleLittleEndian(span[20..], LegacyMetrics[i].Ssim);
            BinaryPrimitives.WriteDoubleLittleEndian(span[28..], LegacyMetrics[i].ElapsedMs / 1000); // the old files kept seconds
        }
        var (ownerColumn, ownerValue) = hasOwnersAndEvaluations ? (", owner", $", '{Mine}'") : ("", "");
        var (nfeColumn, nfe0, nfe1) = hasOwnersAndEvaluations ? (", network_evaluations", ", 2", ", 6") : ("", "", "");
        Sql($"""
            INSERT INTO runs (id, spec, solver, status, error, finished_utc, queue_ms, first_frame_ms, total_ms, frames_produced,
                              steps, final_psnr, final_ssim, final_residual, ground_truth, measurement, metrics, payload_bytes{ownerColumn})
            VALUES ('legacy', 'prior=gmm-image&solver=dps&steps=3&seed=1', 'dps', 'Finished', NULL, 1700000000000, 12.5, 40, 900, 3,
                    3, 22, 0.5, 0.125, x'0102', x'0304', $metrics, 1000{ownerValue});
            INSERT INTO keyframes (run_seq, ordinal, step, total, timestep, mime, xt, x0hat, residual, psnr, ssim, elapsed_ms, is_final{nfeColumn})
            VALUES (1, 0, 0, 3, 999, 'image/png', x'0A0B', x'0C0D', 0.5, 18, NULL, 100, 0{nfe0}),
                   (1, 1, 2, 3, 333, 'image/png', x'0E0F', x'1011', 0.125, 22, 0.5, 300, 1{nfe1});
            """, ("$metrics", metrics));
    }

    void Sql(string sql, params (string Name, object Value)[] parameters)
    {
        using var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        command.ExecuteNonQuery();
    }

    long UserVersion() => Query("PRAGMA user_version").Single()[0] is long version ? version : -1;

    List<object[]> Query(string sql)
    {
        using var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object[]>();
        while (reader.Read())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }
        return rows;
    }

    /// <summary>Every column of the store's tables: table, position, name, type, not null, default, key.</summary>
    List<string> Columns() =>
        Query("""
            SELECT m.name, p.cid, p.name, p.type, p."notnull", COALESCE(p.dflt_value, ''), p.pk
            FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name <> 'sqlite_sequence' ORDER BY m.name, p.cid
            """).Select(row => string.Join('|', row)).ToList();

    RunStore Open() => new(new RunStoreOptions { Path = DatabaseFile });

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AStoreFromBeforeSchemaVersionsOpensAndKeepsItsRuns(bool lastUnversioned)
    {
        Sql(lastUnversioned ? UnversionedSchema : FirstSchema);
        WriteLegacyRun(hasOwnersAndEvaluations: lastUnversioned);
        if (lastUnversioned)
            Sql("""
                INSERT INTO diversity_batches (id, spec, solver, count, finished_utc, seconds, mean_psnr, mean_ssim, mean_residual, std_max,
                                               samples, ground_truth, measurement, mean, std, payload_bytes, owner)
                VALUES ('batch', 'prior=gmm-image&solver=dps&n=2', 'dps', 2, 1700000000000, 1.5, 30, 0.8, 0.1, 0.06,
                        x'020000000A0B010000000C', NULL, NULL, x'01', x'02', 500, 'x');
                """);
        Assert.Equal(0, UserVersion());

        using (var store = Open())
        {
            var summary = Assert.Single(store.List());
            Assert.Equal(("legacy", 3, 22.0, 0.125), (summary.Id, summary.Steps, summary.FinalPsnr, summary.FinalResidual));
            var run = store.Get("legacy")!;
            Assert.Equal(LegacyMetrics, run.Metrics);
            Assert.Equal(new SavedTimings(12.5, 40, 900, 3), run.Timings);
            Assert.Equal([0, 2], run.Keyframes.Select(k => k.Step));
            Assert.Equal([999, 333], run.Keyframes.Select(k => k.Timestep));
            Assert.Equal([false, true], run.Keyframes.Select(k => k.IsFinal));
            Assert.Equal(new byte[] { 0x0E, 0x0F }, run.Keyframes[1].Xt!.Png);
            Assert.Equal(new byte[] { 0x10, 0x11 }, run.Keyframes[1].X0Hat!.Png);
            Assert.True(double.IsNaN(run.Keyframes[0].Ssim));
            Assert.Equal(0.5, run.Keyframes[1].Ssim);
            // What the old file did not record reads as nothing: no owner, no network evaluations, no diffusion time.
            Assert.All(run.Keyframes, k => Assert.True(double.IsNaN(k.T)));
            Assert.Equal(lastUnversioned ? new[] { 2, 6 } : new[] { 0, 0 }, run.Keyframes.Select(k => k.NetworkEvaluations));
            Assert.Equal(lastUnversioned ? Mine : null, run.Owner);
            if (lastUnversioned)
                Assert.Equal(new byte[][] { [0x0A, 0x0B], [0x0C] }, store.GetDiversity("batch")!.SamplePngs);

            Assert.True(store.Save(new SavedDiversity("new-batch", "n=1", "dps", 1, DateTimeOffset.UnixEpoch, 1, 1, 1, 1, 1, [[1, 2]], null, null, null, null, Mine)));
            Assert.True(store.Save(run with { Id = "again", Owner = Mine }));
        }
        Assert.Equal(RunStore.SchemaVersion, UserVersion());

        using var reopened = Open(); // the upgraded file opens as it is
        Assert.Equal(["again", "legacy"], reopened.List().Select(r => r.Id));
        Assert.Equal(Mine, reopened.Get("again")!.Owner);
        Assert.NotNull(reopened.GetDiversity("new-batch"));
    }

    [Fact]
    public void ANewStoreHasTheTablesOfTheLastStoreWithoutVersions()
    {
        using (Open()) { }
        var stepped = Columns();
        Assert.Equal(RunStore.SchemaVersion, UserVersion());

        SqliteConnection.ClearAllPools();
        File.Delete(DatabaseFile);
        Sql(UnversionedSchema + StepsSinceUnversioned);
        Assert.Equal(Columns(), stepped);
    }

    [Fact]
    public void TheFrameColumnsAreTheKeyframesTableColumns()
    {
        using (Open()) { }
        var table = Query("SELECT name, type FROM pragma_table_info('keyframes') WHERE name NOT IN ('run_seq', 'ordinal')")
            .Select(row => ((string)row[0], (string)row[1])).Order();
        Assert.Equal(table, RunStore.FrameColumns.Select(c => (c.Name, c.SqlType)).Order());
    }

    [Fact]
    public void EveryFieldOfAFrameComesBackFromTheStore()
    {
        // A value in every field that differs from its default, so a column written or read wrongly shows.
        var frame = new StepRecord
        {
            Step = 4, Total = 9, Timestep = 321, T = 0.321, Xt = StepImage.FromPng([1, 2, 3]), X0Hat = StepImage.FromPng([4, 5]), Residual = 0.25, Psnr = 31.5,
            Ssim = 0.875, ElapsedMs = 12.75, IsFinal = true, NetworkEvaluations = 17,
        };
        var run = new SavedRun("frame", "solver=dps", "dps", "Finished", null, DateTimeOffset.UnixEpoch, new SavedTimings(1, 2, 3, 1), [], [frame], null, null);
        using var store = Open();
        store.Save(run);
        var back = Assert.Single(store.Get("frame")!.Keyframes);
        foreach (var property in typeof(StepRecord).GetProperties().Where(p => p.PropertyType != typeof(StepImage)))
            Assert.Equal(property.GetValue(frame), property.GetValue(back));
        Assert.Equal(frame.Xt!.Png, back.Xt!.Png);
        Assert.Equal(frame.X0Hat!.Png, back.X0Hat!.Png);
        Assert.Equal(FrameEncoder.Mime, RunFrame.From(back).Mime);
    }

    [Fact]
    public void AStoreWrittenByANewerLabIsRefusedAndLeftAlone()
    {
        using (var store = Open()) store.Save(new SavedRun("kept", "solver=dps", "dps", "Finished", null, DateTimeOffset.UnixEpoch, new SavedTimings(1, 2, 3, 0), [], [], null, null));
        SqliteConnection.ClearAllPools();
        var newer = RunStore.SchemaVersion + 3;
        Sql($"PRAGMA user_version = {newer};");

        var refused = Assert.Throws<RunStoreUnusableException>(Open);
        Assert.Contains(DatabaseFile, refused.Message);
        Assert.Contains("RunStore:Path", refused.Message);
        Assert.Contains($"a newer DiffusionLab wrote it (store schema {newer}; this one knows up to {RunStore.SchemaVersion})", refused.Message);
        Assert.Equal(newer, UserVersion());
        Assert.Single(Query("SELECT id FROM runs"));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
