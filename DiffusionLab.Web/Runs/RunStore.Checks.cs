using Microsoft.Data.Sqlite;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// The store's file cannot be used. <see cref="Exception.Message"/> is one line for the console: the
/// file, what is wrong with it, and the setting that names it (Program.cs prints it and stops).
/// </summary>
public sealed class RunStoreUnusableException(string file, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The full path of the file.</summary>
    public string File { get; } = file;
}

public sealed partial class RunStore
{
    /// <summary>
    /// Opens the file and checks it before anyone relies on it: its pages (<c>PRAGMA quick_check</c>),
    /// its schema version, and that it can be written. Whatever fails becomes one
    /// <see cref="RunStoreUnusableException"/> that says so in words, instead of a SQLite stack at
    /// start-up or a lab that starts and then fails every save.
    /// </summary>
    void OpenFile(string configured, string file)
    {
        int before;
        try
        {
            if (Directory.Exists(file)) throw Unusable(configured, file, "there is a folder at that path, not a file");
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(file)!);
            using var connection = Open();
            var check = (string?)Scalar(connection, null, "PRAGMA quick_check(1);"); // the first problem is enough to say so
            if (check != "ok") throw Unusable(configured, file, $"the file is damaged (PRAGMA quick_check: {check})");
            before = Prepare(connection);
        }
        catch (SqliteException e)
        {
            throw Unusable(configured, file, Reason(e, file), e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Unusable(configured, file, $"its folder cannot be made ({e.Message})", e);
        }
        if (before > SchemaVersion)
            throw Unusable(configured, file, $"a newer DiffusionLab wrote it (store schema {before}; this one knows up to {SchemaVersion})");
    }

    static RunStoreUnusableException Unusable(string configured, string file, string reason, Exception? inner = null) =>
        new(file, OneLine($"Cannot use the run store {file}: {reason}. Fix that, or set RunStore:Path (now \"{configured}\") to another file, or to \"\" to keep runs in memory only."), inner);

    static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>What SQLite's error means for this file, in words.</summary>
    static string Reason(SqliteException e, string file)
    {
        const int Busy = 5, Locked = 6, ReadOnly = 8, IoError = 10, Corrupt = 11, Full = 13, CannotOpen = 14, NotADatabase = 26;
        switch (e.SqliteErrorCode)
        {
            case NotADatabase: return "the file is not a SQLite database";
            case Corrupt: return $"the file is damaged ({e.Message})";
            case Full: return "the disk is full";
            case Busy or Locked: return "another program holds it locked";
            case ReadOnly or CannotOpen or IoError:
                var folder = System.IO.Path.GetDirectoryName(file)!;
                if (!CanWriteIn(folder)) return $"its folder {folder} is not writable";
                if (System.IO.File.Exists(file) && !CanWrite(file)) return "the file is read-only";
                break;
        }
        return $"SQLite says: {e.Message}";
    }

    static bool CanWriteIn(string folder)
    {
        try
        {
            using var probe = new FileStream(System.IO.Path.Combine(folder, $".write-probe-{Guid.NewGuid():N}"),
                FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    static bool CanWrite(string file)
    {
        try
        {
            using var stream = System.IO.File.Open(file, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
