using DiffusionLab.Cli;

namespace DiffusionLab.Tests.Cli;

/// <summary>Where the console verbs look for models/: the order the tool's help promises, on folders made for the test.</summary>
public sealed class ModelsLocationTests : IDisposable
{
    readonly string root = Directory.CreateTempSubdirectory("diffusionlab-models-location-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    string Folder(params string[] parts)
    {
        var path = Path.Combine([root, .. parts]);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public void The_models_option_wins_and_a_models_folder_keeps_the_gallery_beside_it()
    {
        var given = Folder("published", "models");
        Folder("published", "wwwroot-assets", "gallery");
        Folder("checkout", "models");
        var location = ModelsLocation.Resolve(given, Folder("checkout", "work"), Folder("checkout", "bin"));
        Assert.Equal(given, location.Models);
        Assert.Equal(Path.Combine(root, "published"), location.Root);
        Assert.Equal("given with --models", location.How);
    }

    [Fact]
    public void A_models_option_without_a_gallery_beside_it_borrows_the_found_one()
    {
        var given = Folder("exports", "run-7");
        Folder("checkout", "models");
        var location = ModelsLocation.Resolve("../../../exports/run-7", Folder("checkout", "src", "deep"), Folder("elsewhere", "bin"));
        Assert.Equal(given, location.Models);
        Assert.Equal(Path.Combine(root, "checkout"), location.Root);
    }

    [Fact]
    public void A_models_option_that_names_no_folder_is_a_usage_error()
    {
        var error = Assert.Throws<CliUsageException>(() => ModelsLocation.Resolve("missing", Folder("work"), Folder("bin")));
        Assert.Equal("--models missing: no such folder", error.Message);
    }

    [Fact]
    public void Models_next_to_the_program_come_before_any_found_by_walking()
    {
        var program = Folder("app");
        Folder("app", "models");
        Folder("checkout", "models");
        var location = ModelsLocation.Resolve(null, Folder("checkout", "work"), program);
        Assert.Equal(Path.Combine(program, "models"), location.Models);
        Assert.Equal("next to the program", location.How);
    }

    [Fact]
    public void Walking_up_from_the_working_folder_comes_before_walking_up_from_the_program()
    {
        Folder("mine", "models");
        Folder("theirs", "models");
        var location = ModelsLocation.Resolve(null, Folder("mine", "a", "b"), Folder("theirs", "bin", "Debug"));
        Assert.Equal(Path.Combine(root, "mine", "models"), location.Models);
        Assert.Equal("at or above the current folder", location.How);
    }

    [Fact]
    public void A_folder_holding_the_solution_counts_as_the_repository_root_even_before_models_exist()
    {
        var checkout = Folder("checkout");
        File.WriteAllText(Path.Combine(checkout, "DiffusionLab.sln"), "");
        var location = ModelsLocation.Resolve(null, Folder("outside"), Folder("checkout", "DiffusionLab.Cli", "bin"));
        Assert.Equal(Path.Combine(checkout, "models"), location.Models);
        Assert.Equal("at or above the program", location.How);
    }

    [Fact]
    public void Finding_nothing_is_said_rather_than_hidden()
    {
        // The temporary folder may itself sit below a models/ folder on some machine; only a bare tree can find nothing.
        var work = Folder("work");
        var location = ModelsLocation.Resolve(null, work, Folder("bin"));
        if (location.Found) Assert.False(location.Models.StartsWith(root, StringComparison.Ordinal), "nothing under the test folder holds models/");
        else Assert.Equal(Path.Combine(work, "models"), location.Models);
    }
}
