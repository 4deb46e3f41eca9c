using DiffusionLab.Engine.Generators;
using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Priors;
using System.Globalization;
using System.Text;
using System.Text.Json;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>One optimisation step of a VAE or GAN: its losses by name (the columns of the run's history).</summary>
public sealed record GeneratorStep(long Step, IReadOnlyDictionary<string, double> Losses);

/// <summary>
/// What the VAE and GAN trainers share: a training state in one folder (networks, Adam moments, the
/// step, the options) written file by file atomically with the state file last, a history of every
/// step's losses (history.csv, kept in step with the state so a resumed run's curve has no gaps or
/// repeats), a fixed-noise sample grid, and the refusal to train on non-finite numbers.
/// Every step draws its randomness from a generator seeded by (seed, step), so a run resumed from a
/// checkpoint takes exactly the steps the uninterrupted run would have taken.
/// </summary>
public abstract class GeneratorTrainer<TOptions> : IDisposable where TOptions : class
{
    /// <summary>Consecutive steps with non-finite gradients after which the run stops instead of skipping.</summary>
    protected const int MaxConsecutiveSkips = 5;

    /// <summary>Seed of the fixed codes every sample grid is drawn from, so grids from different steps compare.</summary>
    public const long GridSeed = 2024;

    const string StateFile = "training-state.json";
    const string HistoryFile = GeneratorHistory.FileName;

    readonly List<GeneratorStep> unsaved = [];
    readonly Queue<GeneratorStep> recent = new();
    int consecutiveSkips;

    protected GeneratorTrainer(TOptions options) => Options = options;

    public TOptions Options { get; }
    public long Step { get; protected set; }

    /// <summary>The model's name (the exported files' name).</summary>
    public abstract string ModelName { get; }

    /// <summary>The loss names, in the order of the history's columns.</summary>
    public abstract IReadOnlyList<string> LossNames { get; }

    /// <summary>The generator being trained (the VAE's decoder).</summary>
    public abstract ConvGenerator Generator { get; }

    protected abstract long Seed { get; }

    /// <summary>The networks and optimisers of the state, by file name.</summary>
    protected abstract IEnumerable<(string File, nn.Module Network)> StateNetworks { get; }
    protected abstract IEnumerable<(string File, TorchSharp.Modules.Adam Optimizer)> StateOptimizers { get; }

    /// <summary>One step of training on a batch of <paramref name="data"/>; null when a non-finite gradient made it skip.</summary>
    protected abstract IReadOnlyDictionary<string, double>? TakeStep(ImageFolderDataset data, Generator random);

    /// <summary>Writes the network to publish (with its card) to <paramref name="folder"/>.</summary>
    public abstract GeneratorCard Export(string folder, ImageFolderDataset? heldout, string? notes = null);

    public GeneratorStep TrainStep(ImageFolderDataset data)
    {
        using var random = new Generator(unchecked((ulong)Seed * 0x9E3779B97F4A7C15UL + (ulong)Step));
        var losses = TakeStep(data, random);
        if (losses is null)
        {
            if (++consecutiveSkips >= MaxConsecutiveSkips)
                throw new TrainingException($"the gradients were not finite for {consecutiveSkips} steps in a row (last at step {Step}); the run stops. Resume from the last checkpoint with a lower learning rate");
            return new GeneratorStep(Step, new Dictionary<string, double>());
        }
        consecutiveSkips = 0;
        Step++;
        var step = new GeneratorStep(Step, losses);
        unsaved.Add(step);
        recent.Enqueue(step);
        if (recent.Count > RecentSteps) recent.Dequeue();
        return step;
    }

    /// <summary>Throws unless <paramref name="value"/> is finite: a run never trains on a NaN or infinite loss.</summary>
    protected void RefuseNonFinite(string what, double value)
    {
        if (!double.IsFinite(value))
            throw new TrainingException($"the {what} became {value} at step {Step}; the run stops rather than train on it (resume from the last checkpoint, perhaps with a lower learning rate)");
    }

    /// <summary>
    /// Back-propagates <paramref name="loss"/> (refused when not finite) and takes <paramref name="optimizer"/>'s step
    /// for <paramref name="network"/>, unless a gradient came out non-finite: then the gradients are dropped and it
    /// returns false. Returns the loss's value through <paramref name="value"/>.
    /// </summary>
    protected bool StepIfFinite(string what, Tensor loss, nn.Module network, TorchSharp.Modules.Adam optimizer, out double value)
    {
        value = loss.item<float>();
        RefuseNonFinite(what, value);
        loss.backward();
        // The norm (not clipped: the bound is never reached) is one reduction that tells whether every gradient is finite.
        if (!double.IsFinite(nn.utils.clip_grad_norm_(network.parameters(), 1e30)))
        {
            optimizer.zero_grad();
            return false;
        }
        optimizer.step();
        return true;
    }

    /// <summary>The fixed codes of the sample grids: <paramref name="count"/> draws of N(0, I) from <see cref="GridSeed"/>.</summary>
    public Tensor GridCodes(int count = 64)
    {
        using var random = new Generator((ulong)GridSeed);
        return randn([count, Generator.Config.LatentDimension], generator: random);
    }

    /// <summary>A grid of G(z) for the fixed codes, with the generator in eval mode (as it is used as a prior).</summary>
    public virtual void WriteSampleGrid(string path, int count = 64)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        bool wasTraining = Generator.training;
        Generator.eval();
        var samples = Generator.call(GridCodes(count));
        Generator.train(wasTraining);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        ImageCodec.WriteFile(path, samples, columns: 8, scale: 2);
    }

    /// <summary>Steps over which <see cref="RecentLosses"/> averages.</summary>
    public const int RecentSteps = 200;

    /// <summary>The mean of each loss over the last <see cref="RecentSteps"/> steps (empty before the first).</summary>
    public Dictionary<string, double> RecentLosses() =>
        recent.Count == 0 ? new() : LossNames.ToDictionary(name => name, name => recent.Average(r => r.Losses[name]));

    // ---- training state on disk ----

    sealed record State(long Step, TOptions Options);

    public static bool HasState(string folder) => File.Exists(Path.Combine(folder, StateFile));

    /// <summary>Writes the full training state to <paramref name="folder"/> and appends the steps taken since the last save to its history.</summary>
    public void SaveState(string folder)
    {
        Directory.CreateDirectory(folder);
        foreach (var (file, network) in StateNetworks)
            WriteAtomically(Path.Combine(folder, file), path => { using var s = File.Create(path); network.save_safetensors(s); });
        foreach (var (file, optimizer) in StateOptimizers)
            WriteAtomically(Path.Combine(folder, file), optimizer.save_state_dict);
        var history = Path.Combine(folder, HistoryFile);
        var text = new StringBuilder();
        if (!File.Exists(history)) text.Append("step,").AppendJoin(',', LossNames).Append('\n');
        foreach (var step in unsaved)
            text.Append(step.Step.ToString(CultureInfo.InvariantCulture)).Append(',')
                .AppendJoin(',', LossNames.Select(n => step.Losses[n].ToString("R", CultureInfo.InvariantCulture))).Append('\n');
        File.AppendAllText(history, text.ToString());
        unsaved.Clear();
        WriteAtomically(Path.Combine(folder, StateFile), path => File.WriteAllText(path, JsonSerializer.Serialize(new State(Step, Options), ModelCard.Json)));
    }

    /// <summary>The options of the state in <paramref name="folder"/> (to build the trainer that <see cref="LoadState"/> then fills).</summary>
    protected static (long Step, TOptions Options) ReadState(string folder)
    {
        var statePath = Path.Combine(folder, StateFile);
        try
        {
            var state = JsonSerializer.Deserialize<State>(File.ReadAllText(statePath), ModelCard.Json) ?? throw new JsonException("empty");
            return (state.Step, state.Options);
        }
        catch (Exception e) when (e is JsonException or FileNotFoundException or DirectoryNotFoundException)
        {
            throw new TrainingException($"{statePath}: the training state cannot be read ({e.Message})");
        }
    }

    /// <summary>Loads networks, optimisers and step from <paramref name="folder"/>, and drops history rows past the saved step (written by a run that died before its next state file).</summary>
    protected void LoadState(string folder, long step)
    {
        try
        {
            foreach (var (file, network) in StateNetworks) Checkpoints.LoadWeights(network, Path.Combine(folder, file));
        }
        catch (CheckpointException e) { throw new TrainingException($"the training state in {folder} does not fit this network: {e.Message}"); }
        foreach (var (file, optimizer) in StateOptimizers)
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path)) throw new TrainingException($"{path}: the optimiser's state is missing");
            optimizer.load_state_dict(path);
        }
        Step = step;
        var history = Path.Combine(folder, HistoryFile);
        if (File.Exists(history))
        {
            var kept = File.ReadLines(history).Where((line, i) => i == 0 || long.Parse(line[..line.IndexOf(',')], CultureInfo.InvariantCulture) <= step).ToList();
            File.WriteAllText(history, string.Join('\n', kept) + '\n');
            foreach (var row in GeneratorHistory.Read(folder).TakeLast(RecentSteps)) recent.Enqueue(row);
        }
    }

    static void WriteAtomically(string path, Action<string> write)
    {
        var temporary = path + ".tmp";
        write(temporary);
        File.Move(temporary, path, overwrite: true);
    }

    public abstract void Dispose();
}
