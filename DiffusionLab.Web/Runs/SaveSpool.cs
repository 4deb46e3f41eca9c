using DiffusionLab.Engine.Runs;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// Finished runs and diversity batches on their way into the store, one file each in a folder next
/// to it (<c>runs.db.spool</c> beside <c>runs.db</c>), so that a server killed outright loses none
/// that it had reported finished while the store was slow or locked. A file is written whole before
/// anyone hears the run ended — to a temporary name, flushed to the disk, then renamed, so the
/// folder only ever holds complete files — and deleted once the store has committed it; the files
/// a killed server left are saved again when it starts (<see cref="Leftovers"/>), which is harmless
/// for one that was saved already, since saving an id replaces it. A file that cannot be read back
/// (damaged, or not one of ours) is moved into <see cref="SetAsideFolder"/> with a log line and
/// never stops the lab. The spool holds at most <see cref="MaxItems"/> files and
/// <see cref="MaxBytes"/> bytes; past either, <see cref="TryAdd"/> refuses with a sentence saying
/// why. An in-memory store has no folder: the spool then holds the items themselves, under the
/// same bounds (nothing survives a restart there anyway).
/// </summary>
public sealed class SaveSpool
{
    /// <summary>Where unreadable spool files go, inside the spool folder.</summary>
    public const string SetAsideFolder = "set-aside";
    const string Extension = ".spool";
    const string Magic = "diffusionlab-spool 1";

    static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals, // NaN: not measured
        Converters = { new StepImageAsPng() },
    };

    readonly object gate = new();
    readonly ILogger logger;
    int count;
    long bytes;

    /// <param name="folder">The spool folder, made if missing; null keeps the items in memory.</param>
    public SaveSpool(string? folder, int maxItems, long maxBytes, ILogger logger)
    {
        this.logger = logger;
        MaxItems = Math.Max(1, maxItems);
        MaxBytes = Math.Max(1, maxBytes);
        if (folder is null) return;
        try
        {
            Directory.CreateDirectory(folder);
            Folder = folder;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The save spool {Folder} cannot be made ({Reason}): finished runs wait for the store in memory only, and a server killed meanwhile loses them", folder, e.Message);
        }
    }

    /// <summary>The spool folder for a store file.</summary>
    public static string FolderFor(string storeFile) => storeFile + ".spool";

    /// <summary>The folder the files are in; null when the spool is in memory.</summary>
    public string? Folder { get; }
    public int MaxItems { get; }
    public long MaxBytes { get; }

    /// <summary>Items waiting now, and their bytes.</summary>
    public (int Items, long Bytes) Usage()
    {
        lock (gate) return (count, bytes);
    }

    /// <summary>
    /// The files a previous server left (it stopped before the store had them), oldest first, now
    /// counted as waiting. Half-written temporary files are deleted: nobody was told those runs
    /// ended. Call once, at start-up, before <see cref="TryAdd"/>.
    /// </summary>
    public IReadOnlyList<SpoolEntry> Leftovers()
    {
        if (Folder is null) return [];
        var entries = new List<SpoolEntry>();
        try
        {
            foreach (var temporary in Directory.EnumerateFiles(Folder, "*.tmp")) TryDelete(temporary);
            foreach (var file in Directory.EnumerateFiles(Folder, "*" + Extension).Order(StringComparer.Ordinal))
            {
                var size = new FileInfo(file).Length;
                entries.Add(new SpoolEntry(Path.GetFileNameWithoutExtension(file), file, null, size));
                lock (gate)
                {
                    count++;
                    bytes += size;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The save spool {Folder} could not be read ({Reason}): runs left in it are not saved now", Folder, e.Message);
        }
        return entries;
    }

    /// <summary>Spools a finished run; null, with <paramref name="refusal"/> saying why, when the spool is full.</summary>
    public SpoolEntry? TryAdd(SavedRun run, out string refusal) => TryAdd("run", run.Id, run, run.PayloadBytes, out refusal);

    /// <summary>Spools a finished diversity batch; null, with <paramref name="refusal"/> saying why, when the spool is full.</summary>
    public SpoolEntry? TryAdd(SavedDiversity batch, out string refusal) => TryAdd("diversity", batch.Id, batch, batch.PayloadBytes, out refusal);

    SpoolEntry? TryAdd<T>(string kind, string id, T item, long payloadBytes, out string refusal) where T : class
    {
        byte[]? file = null;
        var size = payloadBytes;
        if (Folder is not null)
        {
            file = Encode(kind, item);
            size = file.Length;
        }
        lock (gate)
        {
            if (count >= MaxItems || bytes + size > MaxBytes)
            {
                refusal = count >= MaxItems
                    ? $"the lab is behind on saving: {count} finished runs are already waiting for the store (RunStore:SaveQueue)"
                    : $"the lab is behind on saving: {Megabytes(bytes)} MB of finished runs are already waiting for the store (RunStore:SpoolBytes)";
                return null;
            }
            count++;
            bytes += size;
        }
        refusal = "";
        var name = $"{DateTime.UtcNow.Ticks:D19}-{kind}-{Safe(id)}";
        if (file is null) return new SpoolEntry(name, null, item, size);
        var path = Path.Combine(Folder!, name + Extension);
        var temporary = Path.Combine(Folder!, name + ".tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                stream.Write(file);
                stream.Flush(flushToDisk: true); // on the disk before its name says it is whole
            }
            File.Move(temporary, path);
            return new SpoolEntry(name, path, null, size);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The store may still take it; it just would not survive a killed server.
            TryDelete(temporary);
            logger.LogWarning("Finished {Kind} {Id} could not be written to the save spool ({Reason}); it waits for the store in memory only", kind, id, e.Message);
            return new SpoolEntry(name, null, item, size);
        }
    }

    /// <summary>
    /// The run (<see cref="SavedRun"/>) or batch (<see cref="SavedDiversity"/>) an entry holds; null
    /// when its file cannot be read back, which is then moved into <see cref="SetAsideFolder"/> and logged.
    /// </summary>
    public object? Read(SpoolEntry entry)
    {
        if (entry.Held is { } held) return held;
        string problem;
        try
        {
            var item = Decode(File.ReadAllBytes(entry.File!), out problem);
            if (item is not null) return item;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
        }
        SetAside(entry, problem);
        return null;
    }

    /// <summary>The store has the item: its file goes.</summary>
    public void Remove(SpoolEntry entry)
    {
        if (entry.File is not null) TryDelete(entry.File);
        Release(entry);
    }

    void SetAside(SpoolEntry entry, string problem)
    {
        var aside = Path.Combine(Folder!, SetAsideFolder, Path.GetFileName(entry.File!));
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(aside)!);
            File.Move(entry.File!, aside, overwrite: true);
            logger.LogWarning("The save spool file {File} cannot be read back ({Problem}); moved to {SetAside} and not saved", entry.File, problem, aside);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The save spool file {File} cannot be read back ({Problem}) nor moved aside ({Reason}); it is left where it is", entry.File, problem, e.Message);
        }
        Release(entry);
    }

    void Release(SpoolEntry entry)
    {
        lock (gate)
        {
            count = Math.Max(0, count - 1);
            bytes = Math.Max(0, bytes - entry.Bytes);
        }
    }

    /// <summary>One header line (the format, the kind, the SHA-256 of the rest), then the item as JSON.</summary>
    static byte[] Encode<T>(string kind, T item)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(item, Json);
        var header = Encoding.ASCII.GetBytes($"{Magic} {kind} {Convert.ToHexStringLower(SHA256.HashData(body))}\n");
        return [.. header, .. body];
    }

    internal static object? Decode(byte[] file, out string problem)
    {
        var newline = Array.IndexOf(file, (byte)'\n');
        var header = newline < 0 ? [] : Encoding.ASCII.GetString(file, 0, newline).Split(' ');
        if (header.Length != 4 || $"{header[0]} {header[1]}" != Magic)
        {
            problem = "it is not a spool file of this lab";
            return null;
        }
        var body = file.AsSpan(newline + 1);
        if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(body)), header[3], StringComparison.Ordinal))
        {
            problem = "its contents do not match their checksum: the file is damaged or cut short";
            return null;
        }
        try
        {
            object? item = header[2] switch
            {
                "run" => JsonSerializer.Deserialize<SavedRun>(body, Json),
                "diversity" => JsonSerializer.Deserialize<SavedDiversity>(body, Json),
                _ => null,
            };
            problem = item is null ? $"it holds an unknown kind of item ({header[2]})" : "";
            return item;
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or ArgumentException)
        {
            problem = "its contents are not a saved run (" + e.Message + ")";
            return null;
        }
    }

    void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("The save spool file {File} could not be deleted ({Reason})", file, e.Message);
        }
    }

    /// <summary>Ids are ours (hex), but a file name is made only of letters and digits whatever they are.</summary>
    static string Safe(string id) => new(id.Where(char.IsAsciiLetterOrDigit).Take(64).ToArray());

    static string Megabytes(long count) => (count / (1024.0 * 1024)).ToString("0", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A step's image travels as its PNG (as the store keeps it).</summary>
    sealed class StepImageAsPng : JsonConverter<StepImage>
    {
        public override StepImage Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => StepImage.FromPng(reader.GetBytesFromBase64());

        public override void Write(Utf8JsonWriter writer, StepImage value, JsonSerializerOptions options) => writer.WriteBase64StringValue(value.Png);
    }
}

/// <summary>One run or batch in the <see cref="SaveSpool"/>: its file, or the item itself when the spool is in memory.</summary>
/// <param name="Name">What it is called in the spool (time, kind, id), for log lines.</param>
public sealed record SpoolEntry(string Name, string? File, object? Held, long Bytes);
