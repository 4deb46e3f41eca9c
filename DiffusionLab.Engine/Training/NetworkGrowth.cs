using DiffusionLab.Engine.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Training;

/// <summary>
/// Makes a trained UNet deeper without changing what it computes, so training can go on with
/// more capacity from where the smaller network stopped instead of from noise (the idea of
/// Net2Net's "deeper" operator, Chen et al. 2016, for this UNet).
///
/// A residual block whose last convolution is zero is the identity when its input and output
/// channels agree (ADM starts every block that way), and so is a self-attention layer whose
/// output projection is zero. Going from N to M residual blocks per level:
/// <list type="bullet">
/// <item>on the way down, the first N blocks of each level are the old ones and the M − N new
///   ones follow them as identities, so every skip the old network pushed is still pushed, and
///   the new blocks push copies of the level's last one;</item>
/// <item>on the way up, a level pops its skips in reverse: the first block pops the last skip
///   (the old level's last block output, as before) and is the old first block; the next M − N pop
///   the copies and are new blocks that pass h through and ignore the skip (their 1×1 shortcut is
///   [I | 0], their last convolution zero); the rest are the old ones, in order, popping the same
///   skips as before, the level's upsampling included.</item>
/// </list>
/// The new blocks start as exact identities and learn from the first step (their last convolution's
/// gradient is not zero), as ADM's freshly initialised blocks do.
/// </summary>
public static class NetworkGrowth
{
    /// <summary>A new network like <paramref name="source"/> with <paramref name="resBlocksPerLevel"/> residual blocks per level, computing the same function.</summary>
    public static UNet Deepen(UNet source, int resBlocksPerLevel)
    {
        var old = source.Config;
        if (resBlocksPerLevel < old.ResBlocksPerLevel)
            throw new ArgumentException($"the network has {old.ResBlocksPerLevel} residual blocks per level; it can only be made deeper, not {resBlocksPerLevel}", nameof(resBlocksPerLevel));
        var config = old with { ResBlocksPerLevel = resBlocksPerLevel };
        var grown = new UNet(config, source.Schedule, source.Name);
        int n = old.ResBlocksPerLevel, m = resBlocksPerLevel, extra = m - n, levels = old.ChannelMultipliers.Length;

        // Where each old block lands, and which new up blocks must ignore their skip.
        var downMap = new Dictionary<int, int>();
        var upMap = new Dictionary<int, int>();
        var passThrough = new List<int>();
        int oldIndex = 0, newIndex = 0;
        for (int level = 0; level < levels; level++)
        {
            for (int i = 0; i < n; i++) downMap[oldIndex++] = newIndex++;
            newIndex += extra;
            if (level < levels - 1) downMap[oldIndex++] = newIndex++;
        }
        oldIndex = newIndex = 0;
        for (int level = levels - 1; level >= 0; level--)
        {
            upMap[oldIndex++] = newIndex++;
            for (int i = 0; i < extra; i++) passThrough.Add(newIndex++);
            for (int i = 1; i < n + 1; i++) upMap[oldIndex++] = newIndex++;
        }

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var target = grown.state_dict();
        foreach (var (name, tensor) in source.state_dict())
        {
            var newName = Rename(name, "down.", downMap) ?? Rename(name, "up.", upMap) ?? name;
            if (!target.TryGetValue(newName, out var destination) || !destination.shape.SequenceEqual(tensor.shape))
                throw new InvalidOperationException($"deepening found no place for '{name}' (mapped to '{newName}')");
            destination.copy_(tensor);
        }
        // New blocks are built as identities already (ResidualBlock and SelfAttention start their last
        // layer at zero); an up block's shortcut must also keep h and drop the skip it concatenates.
        foreach (int index in passThrough)
        {
            var shortcut = target[$"up.{index}.res.skip.weight"];
            long outChannels = shortcut.shape[0];
            shortcut.zero_();
            shortcut.narrow(1, 0, outChannels).squeeze(-1).squeeze(-1).copy_(eye(outChannels));
            target[$"up.{index}.res.skip.bias"].zero_();
        }
        return grown;
    }

    /// <summary>A new network like <paramref name="source"/> that also takes a class (one of <paramref name="classNames"/>), computing the same function for every class.</summary>
    public static UNet WithClasses(UNet source, string[] classNames)
    {
        if (source.Config.ClassCount > 0)
            throw new ArgumentException($"{source.Name} already learns classes ({string.Join(", ", source.Config.ClassNames!)})", nameof(source));
        var grown = new UNet(source.Config with { ClassNames = classNames }, source.Schedule, source.Name);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var target = grown.state_dict();
        foreach (var (name, tensor) in source.state_dict()) target[name].copy_(tensor);
        return grown;
    }

    static string? Rename(string name, string list, Dictionary<int, int> map)
    {
        if (!name.StartsWith(list, StringComparison.Ordinal)) return null;
        int dot = name.IndexOf('.', list.Length);
        int index = int.Parse(name.AsSpan(list.Length, dot - list.Length), System.Globalization.CultureInfo.InvariantCulture);
        return $"{list}{map[index]}{name[dot..]}";
    }
}
