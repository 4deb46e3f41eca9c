using DiffusionLab.Engine.Diffusion;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Priors;

/// <summary>A checkpoint that cannot be used; the message names the file and what is wrong with it.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Saves and loads UNet weights as safetensors with a model card beside them. Loading checks
/// everything it can before TorchSharp sees the file — the card parses, the weights exist,
/// their SHA-256 and length match the card, the safetensors header is whole, and every tensor
/// name and shape matches the network the card describes — so a bad file is reported in
/// words instead of failing deep inside libtorch.
/// </summary>
public static class Checkpoints
{
    /// <summary>Writes &lt;folder&gt;/&lt;card.Name&gt;.safetensors and .json; returns the card as written (with the weights' hash).</summary>
    public static ModelCard Save(UNet model, ModelCard card, string folder)
    {
        var (weightsFile, sha256, bytes) = WriteWeights(model, folder, card.Name);
        var written = card with
        {
            WeightsFile = weightsFile,
            WeightsSha256 = sha256,
            WeightsBytes = bytes,
            ParameterCount = model.ParameterCount,
            Config = model.Config,
        };
        WriteCard(written.ToJson(), folder, card.Name);
        return written;
    }

    /// <summary>Writes &lt;folder&gt;/&lt;name&gt;.safetensors atomically; its file name, SHA-256 and length, for the card.</summary>
    public static (string WeightsFile, string Sha256, long Bytes) WriteWeights(nn.Module model, string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var weightsFile = name + ".safetensors";
        var weightsPath = Path.Combine(folder, weightsFile);
        var temporary = weightsPath + ".tmp";
        using (var stream = File.Create(temporary))
            model.save_safetensors(stream);
        File.Move(temporary, weightsPath, overwrite: true);
        return (weightsFile, Sha256(weightsPath), new FileInfo(weightsPath).Length);
    }

    /// <summary>Writes &lt;folder&gt;/&lt;name&gt;.json atomically (after the weights, so a card never names weights that are not there).</summary>
    public static void WriteCard(string json, string folder, string name)
    {
        var cardPath = Path.Combine(folder, name + ".json");
        File.WriteAllText(cardPath + ".tmp", json);
        File.Move(cardPath + ".tmp", cardPath, overwrite: true);
    }

    public static ModelCard ReadCard(string cardPath) =>
        ReadCard<ModelCard>(cardPath, "not valid JSON", card => card.Config?.Problems() ?? ["it has no UNet configuration"]);

    /// <summary>Reads a JSON model card of any kind and checks the architecture it describes (<paramref name="problems"/>: what is wrong with it).</summary>
    /// <param name="notParsed">What to say when the file does not parse as such a card.</param>
    public static TCard ReadCard<TCard>(string cardPath, string notParsed, Func<TCard, IReadOnlyList<string>> problems) where TCard : class
    {
        if (!File.Exists(cardPath)) throw new CheckpointException($"{cardPath}: the model card is missing");
        TCard? card;
        try { card = JsonSerializer.Deserialize<TCard>(File.ReadAllText(cardPath), ModelCard.Json); }
        catch (JsonException e) { throw new CheckpointException($"{cardPath}: the model card is {notParsed} ({e.Message})", e); }
        if (card is null) throw new CheckpointException($"{cardPath}: the model card is empty");
        var found = problems(card);
        if (found.Count > 0) throw new CheckpointException($"{cardPath}: the model card's architecture is invalid: {string.Join("; ", found)}");
        return card;
    }

    /// <summary>Loads the model a card describes (weights beside the card) onto <paramref name="device"/>, by default the process's
    /// <see cref="ComputeDevice.Current"/>. Throws <see cref="CheckpointException"/> for any problem with the files.</summary>
    public static UNet Load(string cardPath, Device? device = null)
    {
        var card = ReadCard(cardPath);
        var weightsPath = CheckWeightsFile(cardPath, card.WeightsFile, card.WeightsBytes, card.WeightsSha256);
        NoiseSchedule schedule;
        try { schedule = NoiseSchedule.FromName(card.ScheduleKind, card.ScheduleSteps); }
        catch (ArgumentException e) { throw new CheckpointException($"{cardPath}: {e.Message}", e); }
        var model = new UNet(card.Config, schedule, card.Name);
        LoadWeights(model, weightsPath);
        model.eval();
        device ??= ComputeDevice.Current;
        if (device.type != DeviceType.CPU) model.to(device);
        // A loaded prior is read-only: solvers differentiate with respect to x_t, never the weights,
        // so autograd need not track them (DPS's backward pass then skips every weight edge).
        foreach (var parameter in model.parameters()) parameter.requires_grad_(false);
        return model;
    }

    /// <summary>The path of the weights file a card names (beside the card), after checking that it exists and that its
    /// length and SHA-256 are the card's (a card without them skips that check).</summary>
    public static string CheckWeightsFile(string cardPath, string weightsFile, long weightsBytes, string? weightsSha256)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(cardPath))!;
        var weightsPath = Path.Combine(folder, weightsFile);
        if (!File.Exists(weightsPath)) throw new CheckpointException($"{weightsPath}: the weights file named by {Path.GetFileName(cardPath)} is missing");
        long length = new FileInfo(weightsPath).Length;
        if (weightsBytes > 0 && length != weightsBytes)
            throw new CheckpointException($"{weightsPath}: the file is {length} bytes but the model card says {weightsBytes} (truncated or replaced?)");
        if (!string.IsNullOrEmpty(weightsSha256))
        {
            var actual = Sha256(weightsPath);
            if (!actual.Equals(weightsSha256, StringComparison.OrdinalIgnoreCase))
                throw new CheckpointException($"{weightsPath}: SHA-256 {actual} does not match the model card's {weightsSha256} (damaged or replaced?)");
        }
        return weightsPath;
    }

    /// <summary>Loads safetensors weights into <paramref name="model"/> (a UNet or any other network) after checking that the file matches it name by name and shape by shape.</summary>
    public static void LoadWeights(nn.Module model, string weightsPath)
    {
        var header = ReadSafetensorsHeader(weightsPath);
        var expected = model.state_dict();
        var missing = expected.Keys.Where(k => !header.ContainsKey(k)).ToList();
        var unexpected = header.Keys.Where(k => !expected.ContainsKey(k)).ToList();
        if (missing.Count > 0 || unexpected.Count > 0)
            throw new CheckpointException($"{weightsPath}: the weights do not fit this architecture: " +
                (missing.Count > 0 ? $"{missing.Count} tensors missing (e.g. {string.Join(", ", missing.Take(3))})" : "") +
                (missing.Count > 0 && unexpected.Count > 0 ? "; " : "") +
                (unexpected.Count > 0 ? $"{unexpected.Count} unexpected (e.g. {string.Join(", ", unexpected.Take(3))})" : ""));
        foreach (var (name, tensor) in expected)
        {
            var (dtype, shape) = header[name];
            if (!shape.SequenceEqual(tensor.shape))
                throw new CheckpointException($"{weightsPath}: tensor '{name}' has shape [{string.Join(", ", shape)}] but the architecture needs [{string.Join(", ", tensor.shape)}]");
            // Weights are F32; a batch norm's step counter is the one I64 tensor a network here holds.
            var needed = tensor.dtype == ScalarType.Int64 ? "I64" : "F32";
            if (dtype != needed)
                throw new CheckpointException($"{weightsPath}: tensor '{name}' is {dtype}; this loader reads {needed} there");
        }
        try
        {
            using var stream = File.OpenRead(weightsPath);
            model.load_safetensors(stream, strict: true);
        }
        catch (Exception e) when (e is not CheckpointException)
        {
            throw new CheckpointException($"{weightsPath}: the weights could not be read ({e.Message})", e);
        }
    }

    /// <summary>Reads a safetensors header (name → dtype, shape) and checks that the data it describes lies inside the file.</summary>
    public static Dictionary<string, (string DType, long[] Shape)> ReadSafetensorsHeader(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException($"{path}: the weights file is missing");
        using var stream = File.OpenRead(path);
        long fileLength = stream.Length;
        if (fileLength < 8) throw new CheckpointException($"{path}: the file is {fileLength} bytes, too short to be safetensors (truncated?)");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.ReadExactly(lengthBytes);
        ulong headerLength = BitConverter.ToUInt64(lengthBytes);
        if (headerLength == 0 || headerLength > (ulong)Math.Min(fileLength - 8, 100_000_000))
            throw new CheckpointException($"{path}: the safetensors header claims {headerLength} bytes in a {fileLength}-byte file (truncated or not safetensors?)");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        var result = new Dictionary<string, (string, long[])>();
        long dataLength = fileLength - 8 - (long)headerLength, dataEnd = 0;
        try
        {
            using var document = JsonDocument.Parse(Encoding.UTF8.GetString(headerBytes));
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var dtype = entry.Value.GetProperty("dtype").GetString() ?? "";
                var shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                    throw new CheckpointException($"{path}: tensor '{entry.Name}' has invalid data offsets");
                dataEnd = Math.Max(dataEnd, offsets[1]);
                result[entry.Name] = (dtype, shape);
            }
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new CheckpointException($"{path}: the safetensors header is not valid ({e.Message})", e);
        }
        if (dataEnd > dataLength)
            throw new CheckpointException($"{path}: the header describes {dataEnd} bytes of tensor data but the file holds {dataLength} (truncated?)");
        return result;
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
