using DiffusionLab.Web.Features.Diversity;
using Microsoft.Data.Sqlite;
using System.Buffers.Binary;

namespace DiffusionLab.Web.Runs;

/// <summary>A finished posterior-diversity batch: its samples, their mean and standard-deviation maps, and the metrics of the mean.</summary>
/// <param name="SpecQuery">The diversity page's query string (spec, solver and n): a link that draws the same samples again.</param>
/// <param name="Owner">The browser that drew it, the only one that may delete it (as for <see cref="SavedRun"/>).</param>
public sealed record SavedDiversity(
    string Id,
    string SpecQuery,
    string Solver,
    int Count,
    DateTimeOffset FinishedAt,
    double Seconds,
    double MeanPsnr,
    double MeanSsim,
    double MeanResidual,
    double StdMax,
    IReadOnlyList<byte[]> SamplePngs,
    byte[]? GroundTruthPng,
    byte[]? MeasurementPng,
    byte[]? MeanPng,
    byte[]? StdPng,
    string? Owner = null) : IDiversityResult
{
    /// <summary>Bytes this batch holds in the store (counted against the same cap as runs).</summary>
    public long PayloadBytes =>
        SamplePngs.Sum(png => (long)png.Length + 4) + (GroundTruthPng?.Length ?? 0) + (MeasurementPng?.Length ?? 0)
        + (MeanPng?.Length ?? 0) + (StdPng?.Length ?? 0) + SpecQuery.Length + 128;
}

/// <summary>One line of the diversity list on /runs.</summary>
public sealed record SavedDiversitySummary(string Id, string SpecQuery, string Solver, int Count, DateTimeOffset FinishedAt,
    double MeanPsnr, double StdMax, double Seconds, string? Owner = null);

public sealed partial class RunStore
{
    /// <summary>Saves a finished diversity batch under the same caps and per-browser share as runs (the oldest of either kind go first); false when it alone exceeds the byte cap.</summary>
    public bool Save(SavedDiversity batch)
    {
        var payload = batch.PayloadBytes;
        if (payload > MaxBytes) return false;
        lock (writeGate)
        {
            using var connection = Open();
            using var transaction = connection.BeginTransaction();
            DeleteDiversityWhere(connection, transaction, "id = $id", ("$id", batch.Id));
            using (var insert = Command(connection, transaction, """
                INSERT INTO diversity_batches (id, spec, solver, count, finished_utc, seconds, mean_psnr, mean_ssim, mean_residual, std_max,
                                               samples, ground_truth, measurement, mean, std, payload_bytes, owner)
                VALUES ($id, $spec, $solver, $count, $finished, $seconds, $psnr, $ssim, $residual, $std_max,
                        $samples, $truth, $measurement, $mean, $std, $payload, $owner);
                """,
                ("$id", batch.Id), ("$spec", batch.SpecQuery), ("$solver", batch.Solver), ("$count", batch.Count),
                ("$finished", batch.FinishedAt.ToUnixTimeMilliseconds()), ("$seconds", batch.Seconds),
                ("$psnr", Finite(batch.MeanPsnr)), ("$ssim", Finite(batch.MeanSsim)), ("$residual", Finite(batch.MeanResidual)), ("$std_max", Finite(batch.StdMax)),
                ("$samples", PackImages(batch.SamplePngs)), ("$truth", batch.GroundTruthPng), ("$measurement", batch.MeasurementPng),
                ("$mean", batch.MeanPng), ("$std", batch.StdPng), ("$payload", payload), ("$owner", batch.Owner)))
                insert.ExecuteNonQuery();
            Evict(connection, transaction, (false, batch.Id));
            transaction.Commit();
            Execute(connection, null, "PRAGMA incremental_vacuum;");
        }
        return true;
    }

    /// <summary>The saved diversity batches, newest first.</summary>
    public IReadOnlyList<SavedDiversitySummary> ListDiversity(int limit = 200)
    {
        using var connection = Open();
        using var query = Command(connection, null, """
            SELECT id, spec, solver, count, finished_utc, mean_psnr, std_max, seconds, owner
            FROM diversity_batches ORDER BY seq DESC LIMIT $limit
            """, ("$limit", Math.Clamp(limit, 0, 100_000)));
        using var reader = query.ExecuteReader();
        var list = new List<SavedDiversitySummary>();
        while (reader.Read())
            list.Add(new SavedDiversitySummary(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
                DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), NullableDouble(reader, 5), NullableDouble(reader, 6), reader.GetDouble(7),
                reader.IsDBNull(8) ? null : reader.GetString(8)));
        return list;
    }

    /// <summary>A saved diversity batch, or null when none has this id.</summary>
    public SavedDiversity? GetDiversity(string? id)
    {
        if (!IsPlausibleId(id)) return null;
        using var connection = Open();
        using var query = Command(connection, null, """
            SELECT id, spec, solver, count, finished_utc, seconds, mean_psnr, mean_ssim, mean_residual, std_max,
                   samples, ground_truth, measurement, mean, std, owner
            FROM diversity_batches WHERE id = $id
            """, ("$id", id));
        using var reader = query.ExecuteReader();
        if (!reader.Read()) return null;
        byte[]? Blob(int column) => reader.IsDBNull(column) ? null : (byte[])reader[column];
        return new SavedDiversity(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt32(3),
            DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(4)), reader.GetDouble(5),
            NullableDouble(reader, 6), NullableDouble(reader, 7), NullableDouble(reader, 8), NullableDouble(reader, 9),
            UnpackImages((byte[])reader[10]), Blob(11), Blob(12), Blob(13), Blob(14), reader.IsDBNull(15) ? null : reader.GetString(15));
    }

    /// <summary>Deletes a saved diversity batch on behalf of <paramref name="owner"/>; false when that browser drew none with this id.</summary>
    public bool DeleteDiversity(string? id, string? owner) => DeleteById(id, owner, DeleteDiversityWhere);

    static int DeleteDiversityWhere(SqliteConnection connection, SqliteTransaction transaction, string condition, params (string, object?)[] parameters)
    {
        using var delete = Command(connection, transaction, $"DELETE FROM diversity_batches WHERE {condition}", parameters);
        return delete.ExecuteNonQuery();
    }

    /// <summary>PNGs one after another, each after its length (int32, little-endian).</summary>
    static byte[] PackImages(IReadOnlyList<byte[]> images)
    {
        var bytes = new byte[images.Sum(png => png.Length + 4)];
        var offset = 0;
        foreach (var png in images)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), png.Length);
            png.CopyTo(bytes, offset + 4);
            offset += png.Length + 4;
        }
        return bytes;
    }

    static byte[][] UnpackImages(byte[] bytes)
    {
        var images = new List<byte[]>();
        for (var offset = 0; offset + 4 <= bytes.Length;)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
            if (length < 0 || offset + 4 + length > bytes.Length) break; // a damaged blob: keep what is whole
            images.Add(bytes.AsSpan(offset + 4, length).ToArray());
            offset += 4 + length;
        }
        return images.ToArray();
    }
}
