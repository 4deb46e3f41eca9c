using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;
using Microsoft.Data.Sqlite;

namespace DiffusionLab.Tests.Web;

/// <summary>A store file the lab cannot use is refused when it opens, in one line that says why and names the setting.</summary>
public sealed class RunStoreChecksTests : IDisposable
{
    readonly string folder = Directory.CreateTempSubdirectory("runstore-checks-").FullName;

    static void AssertNamesFileAndSetting(RunStoreUnusableException refused, string file, string configured)
    {
        Assert.Equal(file, refused.File);
        Assert.Contains(file, refused.Message);
        Assert.Contains($"RunStore:Path (now \"{configured}\")", refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
    }

    [Fact]
    public void AFolderAtThePathIsRefused()
    {
        var file = UnusableStores.FolderAtPath(folder);
        var refused = Assert.Throws<RunStoreUnusableException>(() => new RunStore(new RunStoreOptions { Path = file }));
        AssertNamesFileAndSetting(refused, file, file);
        Assert.Contains("there is a folder at that path, not a file", refused.Message);
    }

    [Fact]
    public void AFileThatIsNotADatabaseIsRefusedAndLeftAsItWas()
    {
        var file = UnusableStores.Garbage(folder);
        var before = File.ReadAllBytes(file);
        // A relative path, as appsettings.json has it: the message gives both the setting and the full path.
        var refused = Assert.Throws<RunStoreUnusableException>(() => new RunStore(new RunStoreOptions { Path = "garbage/runs.db" }, folder));
        AssertNamesFileAndSetting(refused, file, "garbage/runs.db");
        Assert.Contains("the file is not a SQLite database", refused.Message);
        Assert.Equal(before, File.ReadAllBytes(file));
    }

    [Fact]
    public void AStoreWithDamagedPagesBehindAGoodHeaderIsRefused()
    {
        var file = UnusableStores.DamagedPages(folder);
        Assert.Equal("SQLite format 3\0", System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(file), 0, 16));
        var refused = Assert.Throws<RunStoreUnusableException>(() => new RunStore(new RunStoreOptions { Path = file }));
        AssertNamesFileAndSetting(refused, file, file);
        Assert.Contains("the file is damaged", refused.Message);
    }

    [Fact]
    public void AGoodStoreInAFolderThatDoesNotExistYetIsMade()
    {
        var file = Path.Combine(folder, "new", "deeper", "runs.db");
        using (var store = new RunStore(new RunStoreOptions { Path = file }))
            Assert.Empty(store.List());
        Assert.True(File.Exists(file));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        UnusableStores.Remove(folder);
    }
}

/// <summary>Store files the lab must refuse, for the store's own tests and for the lab started as a process.</summary>
static class UnusableStores
{
    public static string FolderAtPath(string folder)
    {
        var file = Path.Combine(folder, "runs.db");
        Directory.CreateDirectory(file);
        return file;
    }

    /// <summary>64 KiB of noise where the store should be.</summary>
    public static string Garbage(string folder)
    {
        var file = Path.Combine(folder, "garbage", "runs.db");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        var noise = new byte[64 * 1024];
        new Random(7).NextBytes(noise);
        File.WriteAllBytes(file, noise);
        return file;
    }

    /// <summary>A good store with runs in it (checked good first), whose pages after the first one are then overwritten in part.</summary>
    public static string DamagedPages(string folder)
    {
        var file = Path.Combine(folder, "damaged", "runs.db");
        using (var store = new RunStore(new RunStoreOptions { Path = file }))
            for (int i = 0; i < 20; i++)
            {
                var image = Enumerable.Range(0, 3000).Select(b => (byte)(b * 7 + i)).ToArray();
                var frame = new StepRecord { Step = 0, Total = 1, Xt = StepImage.FromPng(image), X0Hat = StepImage.FromPng(image), IsFinal = true };
                Assert.True(store.Save(new SavedRun($"run{i}", "solver=dps", "dps", "Finished", null, DateTimeOffset.UnixEpoch,
                    new SavedTimings(1, 2, 3, 1), [new StepRecord { Step = 0, Residual = 1, Psnr = 2, Ssim = 3, ElapsedMs = 4000 }], [frame], image, image)));
            }
        using (var connection = new SqliteConnection($"Data Source={file};Pooling=False"))
        {
            connection.Open();
            Assert.Equal(0L, Pragma(connection, "wal_checkpoint(TRUNCATE)")); // every page in the main file
            Assert.Equal("ok", Pragma(connection, "quick_check")); // and all of them good
        }
        SqliteConnection.ClearAllPools();
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write))
        {
            Assert.True(stream.Length > 16 * 4096, "the store spans many pages");
            var garbage = new byte[512];
            new Random(11).NextBytes(garbage);
            for (long page = 2; page * 4096 < stream.Length; page += 3) // every third page from the third on: the first page (header and schema) stays whole
            {
                stream.Position = page * 4096;
                stream.Write(garbage);
            }
        }
        return file;
    }

    static object? Pragma(SqliteConnection connection, string pragma)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {pragma};";
        return command.ExecuteScalar();
    }

    /// <summary>
    /// A folder the lab cannot write in (its parent is writable), empty or with a good store that
    /// opens for reading (a lab would start and then fail every save).
    /// </summary>
    public static string ReadOnlyFolder(string folder, bool withStore = false)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("The lab's tests make folders read-only with Unix file modes.");
        var locked = Path.Combine(folder, "locked");
        Directory.CreateDirectory(locked);
        if (withStore)
        {
            using (new RunStore(new RunStoreOptions { Path = Path.Combine(locked, "runs.db") })) { }
            SqliteConnection.ClearAllPools();
        }
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute
            | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        return Path.Combine(locked, "runs.db");
    }

    /// <summary>Deletes a test's folder, the read-only one within it included.</summary>
    public static void Remove(string folder)
    {
        var locked = Path.Combine(folder, "locked");
        if (!OperatingSystem.IsWindows() && Directory.Exists(locked)) File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }
}
