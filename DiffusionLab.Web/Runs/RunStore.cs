using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using Microsoft.Data.Sqlite;
using System.Buffers.Binary;

namespace DiffusionLab.Web.Runs;

/// <summary>What a finished run leaves behind: enough to list it and to replay it with the scrubber.</summary>
/// <param name="SpecQuery">The spec's canonical query string (a link that reruns it).</param>
/// <param name="Status">"Finished", "Cancelled" or "Failed".</param>
/// <param name="Metrics">Every step's numbers (the charts' series), without images.</param>
/// <param name="Keyframes">The steps the scrubber steps through, oldest first, their images as PNG.</param>
/// <param name="Owner">The browser that made it (<see cref="BrowserIdentity"/>), the only one that may delete it; null for runs saved before owners were recorded.</param>
public sealed record SavedRun(
    string Id,
    string SpecQuery,
    string Solver,
    string Status,
    string? Error,
    DateTimeOffset FinishedAt,
    SavedTimings Timings,
    IReadOnlyList<StepRecord> Metrics,
    IReadOnlyList<StepRecord> Keyframes,
    byte[]? GroundTruthPng,
    byte[]? MeasurementPng,
    string? Owner = null)
{
    /// <summary>Bytes this run holds in the store: images and series (what the size cap counts).</summary>
    public long PayloadBytes =>
        (GroundTruthPng?.Length ?? 0) + (MeasurementPng?.Length ?? 0) + Metrics.Count * MetricBytes
        + Keyframes.Sum(k => (long)(k.Xt?.Png.Length ?? 0) + (k.X0Hat?.Png.Length ?? 0) + 64) + SpecQuery.Length + (Error?.Length ?? 0) + 128;

    internal const int MetricBytes = 4 + 4 * 8;
}

/// <param name="QueueWaitMs">Time waiting for a free worker.</param>
/// <param name="FirstFrameMs">From start to the first frame (null when no step ran).</param>
/// <param name="TotalMs">From start to the end.</param>
public sealed record SavedTimings(double QueueWaitMs, double? FirstFrameMs, double TotalMs, int FramesProduced);

/// <summary>One line of the /runs list.</summary>
public sealed record SavedRunSummary(
    string Id, string SpecQuery, string Solver, string Status, DateTimeOffset FinishedAt,
    int Steps, double FinalPsnr, double FinalSsim, double FinalResidual, double TotalMs, long PayloadBytes, string? Owner = null);

/// <summary>
/// Finished runs in SQLite: spec, status, timings, metric series and keyframes of each (and finished
/// posterior-diversity batches, RunStore.Diversity.cs, under the same caps). A run is
/// written in one transaction when it ends, in WAL mode, so a killed server keeps every run it
/// had finished and never a half-written one. The store stays under its caps by evicting in that
/// same transaction, per browser rather than first-in-first-out for the whole class: a browser past
/// its share (<see cref="RunsPerBrowser"/>) loses its own oldest, and a store past its count or byte
/// cap takes the oldest of the browser holding the most, so nobody's runs are wiped by a classmate's. Unknown or malformed ids are simply not
/// found: every query is parameterised and nothing here throws for what a visitor types.
/// </summary>
public sealed partial class RunStore : IRunStore, IDisposable
{
    readonly string connectionString;
    readonly SqliteConnection? keepAlive; // an in-memory database lives as long as one connection to it
    readonly object writeGate = new();

    /// <param name="contentRoot">What a relative <see cref="RunStoreOptions.Path"/> is under.</param>
    /// <exception cref="RunStoreUnusableException">The file cannot be a store (see RunStore.Checks.cs).</exception>
    public RunStore(RunStoreOptions options, string? contentRoot = null)
    {
        MaxRuns = Math.Max(1, options.MaxRuns);
        RunsPerBrowser = Math.Clamp(options.RunsPerBrowser, 1, MaxRuns);
        MaxBytes = Math.Max(1, options.MaxBytes);
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = "runs-" + Guid.NewGuid().ToString("N"),
                Mode = SqliteOpenMode.Memory,
                Cache = SqliteCacheMode.Shared,
            }.ToString();
            keepAlive = new SqliteConnection(connectionString);
            keepAlive.Open();
            using var connection = Open();
            Prepare(connection);
        }
        else
        {
            var file = System.IO.Path.GetFullPath(options.Path, contentRoot ?? AppContext.BaseDirectory);
            FilePath = file;
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = file,
                Mode = SqliteOpenMode.ReadWriteCreate,
                DefaultTimeout = Math.Clamp(options.BusyTimeoutSeconds, 1, 300), // 0 would mean wait forever
            }.ToString();
            OpenFile(options.Path, file);
        }
    }

    /// <summary>Sets up a store that opened: WAL, incremental vacuum, the schema brought up to date.</summary>
    /// <returns>The schema version the store had before.</returns>
    static int Prepare(SqliteConnection connection)
    {
        // auto_vacuum takes effect only on a file without tables yet (a new store); WAL cannot be set inside a transaction.
        Execute(connection, null, "PRAGMA auto_vacuum = INCREMENTAL;");
        Execute(connection, null, "PRAGMA journal_mode = WAL;");
        return Migrate(connection);
    }

    /// <summary>The database file (null for an in-memory store).</summary>
    public string? FilePath { get; }
    public int MaxRuns { get; }
    public int RunsPerBrowser { get; }
    public long MaxBytes { get; }

    /// <summary>
    /// Saves a finished run (replacing one with the same id) and evicts the oldest runs until the
    /// store is under both caps. A run larger than the whole byte cap is not kept: returns false.
    /// </summary>
    public bool Save(SavedRun run)
    {
        var payload = run.PayloadBytes;
        if (payload > MaxBytes) return false;
        var last = run.Metrics.Count > 0 ? run.Metrics[^1] : null;
        lock (writeGate)
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction();
            DeleteWhere(connection, transaction, "id = $id", ("$id", run.Id));
            using (var insert = Command(connection, transaction, """
                INSERT INTO runs (id, spec, solver, status, error, finished_utc, queue_ms, first_frame_ms, total_ms, frames_produced,
                                  steps, final_psnr, final_ssim, final_residual, ground_truth, measurement, metrics, payload_bytes, owner)
                VALUES ($id, $spec, $solver, $status, $error, $finished, $queue, $first, $total, $frames,
                        $steps, $psnr, $ssim, $residual, $truth, $measurement, $metrics, $payload, $owner);
                SELECT last_insert_rowid();
                """,
                ("$id", run.Id), ("$spec", run.SpecQuery), ("$solver", run.Solver), ("$status", run.Status), ("$error", run.Error),
                ("$finished", run.FinishedAt.ToUnixTimeMilliseconds()), ("$queue", run.Timings.QueueWaitMs),
                ("$first", run.Timings.FirstFrameMs), ("$total", run.Timings.TotalMs), ("$frames", run.Timings.FramesProduced),
                ("$steps", run.Metrics.Count), ("$psnr", Finite(last?.Psnr)), ("$ssim", Finite(last?.Ssim)), ("$residual", Finite(last?.Residual)),
                ("$truth", run.GroundTruthPng), ("$measurement", run.MeasurementPng), ("$metrics", PackMetrics(run.Metrics)), ("$payload", payload),
                ("$owner", run.Owner)))
            {
                WriteKeyframes(connection, transaction, (long)insert.ExecuteScalar()!, run.Keyframes);
            }
            Evict(connection, transaction, (true, run.Id));
            transaction.Commit();
            Execute(connection, null, "PRAGMA incremental_vacuum;");
        }
        return true;
    }

    /// <summary>The saved runs, newest first.</summary>
    public IReadOnlyList<SavedRunSummary> List(int limit = 200)
    {
        using var connection = Open();
        using var query = Command(connection, null, """
            SELECT id, spec, solver, status, finished_utc, steps, final_psnr, final_ssim, final_residual, total_ms, payload_bytes, owner
            FROM runs ORDER BY seq DESC LIMIT $limit
            """, ("$limit", Math.Clamp(limit, 0, 100_000)));
        using var reader = query.ExecuteReader();
        var list = new List<SavedRunSummary>();
        while (reader.Read())
            list.Add(new SavedRunSummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.GetInt32(5),
                NullableDouble(reader, 6), NullableDouble(reader, 7), NullableDouble(reader, 8), reader.GetDouble(9), reader.GetInt64(10),
                reader.IsDBNull(11) ? null : reader.GetString(11)));
        return list;
    }

    /// <summary>A saved run with its series and keyframes, or null when no run has this id.</summary>
    public SavedRun? Get(string? id)
    {
        if (!IsPlausibleId(id)) return null;
        using var connection = Open();
        long seq;
        SavedRun run;
        using (var query = Command(connection, null, """
            SELECT seq, id, spec, solver, status, error, finished_utc, queue_ms, first_frame_ms, total_ms, frames_produced,
                   ground_truth, measurement, metrics, owner
            FROM runs WHERE id = $id
            """, ("$id", id)))
        using (var reader = query.ExecuteReader())
        {
            if (!reader.Read()) return null;
            seq = reader.GetInt64(0);
            run = new SavedRun(reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(6)),
                new SavedTimings(reader.GetDouble(7), reader.IsDBNull(8) ? null : reader.GetDouble(8), reader.GetDouble(9), reader.GetInt32(10)),
                UnpackMetrics((byte[])reader[13]), [],
                reader.IsDBNull(11) ? null : (byte[])reader[11], reader.IsDBNull(12) ? null : (byte[])reader[12],
                reader.IsDBNull(14) ? null : reader.GetString(14));
        }
        return run with { Keyframes = ReadKeyframes(connection, seq) };
    }

    /// <summary>The last keyframe's x̂0 alone, read without the rest of the run (the saved-runs list shows one per row).</summary>
    public (byte[] Png, string SpecQuery, string? Owner)? Thumbnail(string? id)
    {
        if (!IsPlausibleId(id)) return null;
        using var connection = Open();
        using var query = Command(connection, null, """
            SELECT k.x0hat, r.spec, r.owner FROM keyframes k JOIN runs r ON k.run_seq = r.seq
            WHERE r.id = $id ORDER BY k.ordinal DESC LIMIT 1
            """, ("$id", id));
        using var reader = query.ExecuteReader();
        if (!reader.Read() || reader.IsDBNull(0) || reader[0] is not byte[] { Length: > 0 } png) return null;
        return (png, reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    /// <summary>
    /// Deletes a saved run on behalf of <paramref name="owner"/> (a <see cref="BrowserIdentity"/>):
    /// false when there is no run with this id made by that browser, so nobody deletes another's run.
    /// </summary>
    public bool Delete(string? id, string? owner) => DeleteById(id, owner, DeleteWhere);

    bool DeleteById(string? id, string? owner, Func<SqliteConnection, SqliteTransaction, string, (string, object?)[], int> deleteWhere)
    {
        if (!IsPlausibleId(id) || !BrowserIdentity.IsWellFormed(owner)) return false;
        lock (writeGate)
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction();
            var deleted = deleteWhere(connection, transaction, "id = $id AND owner = $owner", [("$id", id), ("$owner", owner)]);
            transaction.Commit();
            if (deleted > 0) Execute(connection, null, "PRAGMA incremental_vacuum;");
            return deleted > 0;
        }
    }

    /// <summary>How many runs and diversity batches, and how many payload bytes, the store holds now.</summary>
    public (int Runs, long PayloadBytes) Usage()
    {
        using var connection = Open();
        return Usage(connection, null);
    }

    public void Dispose() => keepAlive?.Dispose();

    /// <param name="saved">The run or batch just saved: it stays (Save checked that it fits alone), and counts in its browser's share.</param>
    void Evict(SqliteConnection connection, SqliteTransaction transaction, (bool IsRun, string Id) saved)
    {
        // Every run and batch but the one just saved, oldest first in each browser's line (runs saved
        // before owners were recorded, and cookie-less clients', share one line).
        var lines = new Dictionary<string, EvictionLine>();
        long count = 0, bytes = 0, order = 0;
        using (var all = Command(connection, transaction, """
            SELECT 1, seq, payload_bytes, finished_utc, owner, id FROM runs
            UNION ALL SELECT 0, seq, payload_bytes, finished_utc, owner, id FROM diversity_batches
            ORDER BY 4, 2
            """))
        using (var reader = all.ExecuteReader())
            while (reader.Read())
            {
                var owner = reader.IsDBNull(4) ? "" : reader.GetString(4);
                var line = lines.TryGetValue(owner, out var known) ? known : lines[owner] = new();
                var (isRun, size) = (reader.GetInt64(0) == 1, reader.GetInt64(2));
                count++;
                bytes += size;
                line.Bytes += size;
                if (isRun == saved.IsRun && reader.GetString(5) == saved.Id) line.HasSaved = true;
                else line.Oldest.Enqueue((isRun, reader.GetInt64(1), size, order++));
            }
        var victims = new List<(bool IsRun, long Seq)>();
        void TakeOldest(EvictionLine line)
        {
            var (isRun, seq, size, _) = line.Oldest.Dequeue();
            victims.Add((isRun, seq));
            count--;
            bytes -= size;
            line.Bytes -= size;
        }
        foreach (var line in lines.Values)
            while (line.Count > RunsPerBrowser && line.Oldest.Count > 0) TakeOldest(line);
        // The store as a whole: from the browser holding the most (ties: the one whose oldest is oldest).
        EvictionLine? Fullest(Func<EvictionLine, long> size) =>
            lines.Values.Where(l => l.Oldest.Count > 0).MaxBy(l => (size(l), -l.Oldest.Peek().Order));
        while (count > MaxRuns && Fullest(l => l.Count) is { } line) TakeOldest(line);
        while (bytes > MaxBytes && Fullest(l => l.Bytes) is { } line) TakeOldest(line);
        foreach (var (isRun, seq) in victims)
            if (isRun) DeleteWhere(connection, transaction, "seq = $seq", ("$seq", seq));
            else DeleteDiversityWhere(connection, transaction, "seq = $seq", ("$seq", seq));
    }

    /// <summary>One browser's runs and batches while the store evicts: those it may lose, oldest first, and what it holds in all.</summary>
    sealed class EvictionLine
    {
        public Queue<(bool IsRun, long Seq, long Bytes, long Order)> Oldest { get; } = new();
        public bool HasSaved { get; set; }
        public long Bytes { get; set; }
        public int Count => Oldest.Count + (HasSaved ? 1 : 0);
    }

    /// <summary>Runs plus diversity batches, and the payload bytes of both.</summary>
    static (int Runs, long PayloadBytes) Usage(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var query = Command(connection, transaction, """
            SELECT (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM diversity_batches),
                   (SELECT COALESCE(SUM(payload_bytes), 0) FROM runs) + (SELECT COALESCE(SUM(payload_bytes), 0) FROM diversity_batches)
            """);
        using var reader = query.ExecuteReader();
        reader.Read();
        return (reader.GetInt32(0), reader.GetInt64(1));
    }

    static int DeleteWhere(SqliteConnection connection, SqliteTransaction transaction, string condition, params (string, object?)[] parameters)
    {
        using var frames = Command(connection, transaction, $"DELETE FROM keyframes WHERE run_seq IN (SELECT seq FROM runs WHERE {condition})", parameters);
        frames.ExecuteNonQuery();
        using var runs = Command(connection, transaction, $"DELETE FROM runs WHERE {condition}", parameters);
        return runs.ExecuteNonQuery();
    }

    /// <summary>Ids are short tokens we made; anything else cannot be one, so it is not looked up.</summary>
    static bool IsPlausibleId(string? id) => !string.IsNullOrEmpty(id) && id.Length <= 64;

    SqliteConnection Open()
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        // NORMAL is durable against a killed process in WAL mode (only a power cut may lose the last commits).
        Execute(connection, null, "PRAGMA synchronous = NORMAL;");
        return connection;
    }

    static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command;
    }

    static double? Finite(double? value) => value is { } v && double.IsFinite(v) ? v : null;

    static double NullableDouble(SqliteDataReader reader, int column) => reader.IsDBNull(column) ? double.NaN : reader.GetDouble(column);

    static byte[] PackMetrics(IReadOnlyList<StepRecord> metrics)
    {
        var bytes = new byte[metrics.Count * SavedRun.MetricBytes];
        var span = bytes.AsSpan();
        foreach (var point in metrics)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span, point.Step);
            BinaryPrimitives.WriteDoubleLittleEndian(span[4..], point.Residual);
            BinaryPrimitives.WriteDoubleLittleEndian(span[12..], point.Psnr);
            BinaryPrimitives.WriteDoubleLittleEndian(span[20..], point.Ssim);
            BinaryPrimitives.WriteDoubleLittleEndian(span[28..], point.ElapsedMs / 1000); // seconds, as stores written before kept them
            span = span[SavedRun.MetricBytes..];
        }
        return bytes;
    }

    static StepRecord[] UnpackMetrics(byte[] bytes)
    {
        var points = new StepRecord[bytes.Length / SavedRun.MetricBytes];
        ReadOnlySpan<byte> span = bytes;
        for (int i = 0; i < points.Length; i++, span = span[SavedRun.MetricBytes..])
            points[i] = new StepRecord
            {
                Step = BinaryPrimitives.ReadInt32LittleEndian(span),
                Residual = BinaryPrimitives.ReadDoubleLittleEndian(span[4..]),
                Psnr = BinaryPrimitives.ReadDoubleLittleEndian(span[12..]),
                Ssim = BinaryPrimitives.ReadDoubleLittleEndian(span[20..]),
                ElapsedMs = BinaryPrimitives.ReadDoubleLittleEndian(span[28..]) * 1000,
            };
        return points;
    }
}
