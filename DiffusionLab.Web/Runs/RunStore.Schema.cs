using Microsoft.Data.Sqlite;
using System.Collections.Immutable;

namespace DiffusionLab.Web.Runs;

/// <summary>One step of the store's schema.</summary>
/// <param name="Version">The store's <c>PRAGMA user_version</c> once it has had this step.</param>
/// <param name="Makes">What the step adds, "table" or "table.column": a store from before versions were kept shows by it whether it already had the step.</param>
/// <param name="Sql">The step itself, run in the transaction that upgrades the store.</param>
readonly record struct SchemaStep(int Version, string Makes, string Sql);

public sealed partial class RunStore
{
    /// <summary>
    /// The schema, oldest step first. A store records in <c>PRAGMA user_version</c> the last step it
    /// has had, and opening it applies the later ones. A shipped step is never edited: a change to
    /// the schema is a new step at the end.
    /// </summary>
    static readonly ImmutableArray<SchemaStep> Schema =
    [
        new(1, "runs", """
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
                payload_bytes INTEGER NOT NULL);
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
                PRIMARY KEY (run_seq, ordinal));
            """),
        // Runs saved before this step read 0 evaluations.
        new(2, "keyframes.network_evaluations", "ALTER TABLE keyframes ADD COLUMN network_evaluations INTEGER NOT NULL DEFAULT 0;"),
        new(3, "diversity_batches", """
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
                payload_bytes INTEGER NOT NULL);
            """),
        // Runs and batches saved before these steps have no owner: no visitor can delete them (eviction still can).
        new(4, "runs.owner", "ALTER TABLE runs ADD COLUMN owner TEXT;"),
        new(5, "diversity_batches.owner", "ALTER TABLE diversity_batches ADD COLUMN owner TEXT;"),
        // Keyframes saved before this step have no diffusion time: they read t as NaN, "not known".
        new(6, "keyframes.t", "ALTER TABLE keyframes ADD COLUMN t REAL;"),
    ];

    /// <summary>The schema version this code writes (the last step's).</summary>
    public static int SchemaVersion => Schema[^1].Version;

    /// <summary>
    /// Brings the store up to <see cref="SchemaVersion"/> in one transaction, so a failed upgrade
    /// leaves it as it was. The transaction is IMMEDIATE: a second process opening the same file
    /// waits, then finds the work done. The version is written even when no step is due, so a store
    /// that cannot be written fails here, at start-up, rather than at its first save.
    /// </summary>
    /// <returns>The version the store had before.</returns>
    static int Migrate(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        var version = Convert.ToInt32(Scalar(connection, transaction, "PRAGMA user_version;"), System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaVersion) return version; // the caller refuses it: a newer lab wrote this file
        foreach (var step in Schema)
        {
            if (step.Version <= version) continue;
            // Version 0 is a new file or one written before versions were kept, which has some of
            // the first steps' tables and columns: it skips those.
            if (version == 0 && Has(connection, transaction, step.Makes)) continue;
            Execute(connection, transaction, step.Sql);
        }
        Execute(connection, transaction, $"PRAGMA user_version = {SchemaVersion};");
        transaction.Commit();
        return version;
    }

    /// <summary>Whether the store has the table ("table") or column ("table.column") a step makes.</summary>
    static bool Has(SqliteConnection connection, SqliteTransaction transaction, string makes)
    {
        var dot = makes.IndexOf('.');
        return dot < 0
            ? (long)Scalar(connection, transaction, "SELECT COUNT(*) FROM sqlite_master WHERE name = $name", ("$name", makes))! > 0
            : (long)Scalar(connection, transaction, "SELECT COUNT(*) FROM pragma_table_info($table) WHERE name = $column",
                ("$table", makes[..dot]), ("$column", makes[(dot + 1)..]))! > 0;
    }

    static object? Scalar(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar();
    }

    static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = Command(connection, transaction, sql);
        command.ExecuteNonQuery();
    }
}
