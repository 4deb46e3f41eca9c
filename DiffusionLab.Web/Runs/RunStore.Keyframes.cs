using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using Microsoft.Data.Sqlite;
using System.Collections.Immutable;
using System.Linq.Expressions;
using System.Reflection;

namespace DiffusionLab.Web.Runs;

public sealed partial class RunStore
{
    /// <summary>
    /// How each field of a step (<see cref="StepRecord"/>) is kept in the keyframes table, in one list
    /// that the insert and the read are made from. A new field of a step is one entry here plus a
    /// schema step that adds its column; rows saved before that read the column's default.
    /// </summary>
    internal static readonly ImmutableArray<FrameColumn> FrameColumns =
    [
        FrameColumn.Of("step", f => f.Step),
        FrameColumn.Of("total", f => f.Total),
        FrameColumn.Of("timestep", f => f.Timestep),
        FrameColumn.Of("t", f => f.T),
        FrameColumn.Fixed("mime", FrameEncoder.Mime), // a kept step's images are PNGs
        FrameColumn.Of("xt", f => f.Xt),
        FrameColumn.Of("x0hat", f => f.X0Hat),
        FrameColumn.Of("residual", f => f.Residual),
        FrameColumn.Of("psnr", f => f.Psnr),
        FrameColumn.Of("ssim", f => f.Ssim),
        FrameColumn.Of("elapsed_ms", f => f.ElapsedMs),
        FrameColumn.Of("is_final", f => f.IsFinal),
        FrameColumn.Of("network_evaluations", f => f.NetworkEvaluations),
    ];

    static readonly string InsertKeyframe =
        $"INSERT INTO keyframes (run_seq, ordinal, {string.Join(", ", FrameColumns.Select(c => c.Name))}) " +
        $"VALUES ($seq, $ordinal, {string.Join(", ", FrameColumns.Select(c => c.Parameter))});";

    static readonly string SelectKeyframes =
        $"SELECT {string.Join(", ", FrameColumns.Select(c => c.Name))} FROM keyframes WHERE run_seq = $seq ORDER BY ordinal";

    static void WriteKeyframes(SqliteConnection connection, SqliteTransaction transaction, long seq, IReadOnlyList<StepRecord> frames)
    {
        using var insert = Command(connection, transaction, InsertKeyframe, ("$seq", seq), ("$ordinal", 0));
        foreach (var column in FrameColumns) insert.Parameters.AddWithValue(column.Parameter, DBNull.Value);
        for (int i = 0; i < frames.Count; i++)
        {
            insert.Parameters["$ordinal"].Value = i;
            foreach (var column in FrameColumns) insert.Parameters[column.Parameter].Value = column.Write(frames[i]);
            insert.ExecuteNonQuery();
        }
    }

    static List<StepRecord> ReadKeyframes(SqliteConnection connection, long seq)
    {
        using var query = Command(connection, null, SelectKeyframes, ("$seq", seq));
        using var rows = query.ExecuteReader();
        var frames = new List<StepRecord>();
        while (rows.Read())
        {
            var frame = new StepRecord();
            for (int i = 0; i < FrameColumns.Length; i++) FrameColumns[i].Read(frame, rows, i);
            frames.Add(frame);
        }
        return frames;
    }
}

/// <summary>
/// One field of <see cref="StepRecord"/> and its keyframes column: the column's SQLite type and how
/// the value is written and read follow from the field's type. A double that is not finite (NaN:
/// not measured) is stored as NULL and reads back as NaN, or as null for a <c>double?</c>; an image
/// is stored as its PNG.
/// </summary>
internal sealed class FrameColumn
{
    readonly Func<StepRecord, object?> get;
    readonly PropertyInfo? property;
    readonly Func<SqliteDataReader, int, object?> read;

    FrameColumn(string name, string sqlType, PropertyInfo? property, Func<StepRecord, object?> get, Func<SqliteDataReader, int, object?> read)
    {
        Name = name;
        SqlType = sqlType;
        this.property = property;
        this.get = get;
        this.read = read;
    }

    public string Name { get; }

    /// <summary>The column's declared type ("INTEGER", "REAL", "TEXT", "BLOB"), as its schema step must create it.</summary>
    public string SqlType { get; }

    public string Parameter => "$" + Name;

    public object Write(StepRecord frame) => get(frame) switch
    {
        StepImage image => image.Png,
        null when SqlType == "BLOB" => Array.Empty<byte>(),
        null => DBNull.Value,
        bool b => b ? 1 : 0,
        double d => double.IsFinite(d) ? d : DBNull.Value,
        var value => value,
    };

    /// <summary>Sets the field on a frame being read (the fields are init-only; reflection may set them while the frame is new).</summary>
    public void Read(StepRecord frame, SqliteDataReader row, int ordinal) => property?.SetValue(frame, read(row, ordinal));

    /// <summary>A column every row holds the same value in, which no field of a step carries (read back, it is ignored).</summary>
    public static FrameColumn Fixed(string name, string value) => new(name, "TEXT", null, _ => value, (_, _) => null);

    public static FrameColumn Of<T>(string name, Expression<Func<StepRecord, T>> field)
    {
        var property = (field.Body as MemberExpression)?.Member as PropertyInfo
            ?? throw new ArgumentException("A frame column names a property of StepRecord: f => f.Field.", nameof(field));
        var get = field.Compile();
        var (sqlType, read) = typeof(T) switch
        {
            var t when t == typeof(int) => ("INTEGER", (Func<SqliteDataReader, int, object?>)((r, i) => r.GetInt32(i))),
            var t when t == typeof(bool) => ("INTEGER", (r, i) => r.GetInt64(i) != 0),
            var t when t == typeof(double) => ("REAL", (r, i) => r.IsDBNull(i) ? double.NaN : r.GetDouble(i)),
            var t when t == typeof(double?) => ("REAL", (r, i) => r.IsDBNull(i) ? null : r.GetDouble(i)),
            var t when t == typeof(string) => ("TEXT", (r, i) => r.GetString(i)),
            var t when t == typeof(byte[]) => ("BLOB", (r, i) => (byte[])r[i]),
            var t when t == typeof(StepImage) => ("BLOB", (r, i) => StepImage.FromPng((byte[])r[i])),
            _ => throw new NotSupportedException($"StepRecord.{property.Name}: no keyframes column type for {typeof(T).Name}."),
        };
        return new FrameColumn(name, sqlType, property, frame => get(frame), read);
    }
}
