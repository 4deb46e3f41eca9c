using DiffusionLab.Engine.Methods;
using System.Globalization;
using System.Text;

namespace DiffusionLab.Tests.Runs;

/// <summary>
/// Seeded random query strings of the kind people paste, edit and mistype: real keys and ids mixed
/// with wrong ones, numbers far out of range or not numbers at all, settings of other methods,
/// page keys, duplicates, stray separators, odd encodings and non-ASCII text. The same seed gives
/// the same links, so a failure can be replayed.
/// </summary>
public static class RandomLinks
{
    static readonly string[] SpecKeys = ["prior", "image", "op", "noise", "sigmaY", "rate", "solver", "steps", "seed"];
    static readonly string[] PageKeys = ["solvers", "n"];
    static readonly string[] JunkKeys = ["", "bogus", "utm_source", "fbclid", "op.", "s.", "OP", "Steps", "prior ", "%ZZ", "a=b", "é", "s..x"];
    static readonly string[] Priors = ["pixel-faces-32", "emoji-32", "gmm-image", "nope", "../etc", "PIXEL-FACES-32", ""];
    static readonly string[] Images = ["gallery:0", "gallery:1f627", "gallery:face-03", "sample:0", "sample:7", "sample:99", "sample:-1",
        "upload:0123456789ab", "upload:", "http:x", "noColon", "gallery:../../etc/passwd", ":", ""];
    static readonly string[] Noises = ["gaussian", "poisson", "laplace", "GAUSSIAN", ""];
    static readonly string[] Solvers = ["dpss", "hqs,dps", "", "DPS"];

    static readonly string[] Numbers =
    [
        "0", "1", "-1", "-5", "0.5", "1.5", "2.5", "3", "7", "20", "40", "250", "1000", "1001", "5000", "100000", "1000000000",
        "99999999999", "-99999999999", "1e-9", "1e300", "-0", " 5 ", "+3", "1e3", "00000000000000000000000000000007",
    ];

    static readonly string[] NotNumbers = ["1e999", "-1e999", "NaN", "Infinity", "0x10", "1,5", "abc", "", "1e", "..", "٣"];

    /// <summary>One link: up to a dozen key=value pairs, sometimes with a leading '?'.</summary>
    public static string Next(Random rng)
    {
        var parts = new List<string>();
        var count = rng.Next(0, 13);
        var keys = new HashSet<string>();
        for (var i = 0; i < count; i++)
        {
            var (key, value) = Pair(rng);
            if (!keys.Add(key) && rng.Next(10) > 0) continue; // a key twice now and then, not in most links
            parts.Add(rng.Next(40) switch
            {
                0 => Encode(key, rng),
                1 => key, // no '=' at all
                _ => Encode(key, rng) + "=" + Encode(value, rng),
            });
            if (rng.Next(40) == 0) parts.Add(parts[^1]); // the same key twice
            if (rng.Next(20) == 0) parts.Add("");        // "&&"
        }
        var query = string.Join('&', parts);
        return rng.Next(3) == 0 ? "?" + query : query;
    }

    static (string Key, string Value) Pair(Random rng)
    {
        switch (rng.Next(10))
        {
            case 0: return (Pick(rng, JunkKeys), Word(rng));
            case 1: return (Pick(rng, PageKeys), rng.Next(2) == 0 ? Number(rng) : string.Join(',', Enumerable.Range(0, rng.Next(1, 4)).Select(_ => SolverId(rng))));
            case 2:
            case 3:
                var op = OperatorCatalog.All[rng.Next(OperatorCatalog.All.Count)];
                return ("op." + (op.Parameters.Count > 0 && rng.Next(4) > 0 ? op.Parameters[rng.Next(op.Parameters.Count)].Key : Word(rng)), Number(rng));
            case 4:
            case 5:
                var solver = SolverCatalog.All[rng.Next(SolverCatalog.All.Count)];
                return ("s." + (solver.Parameters.Count > 0 && rng.Next(4) > 0 ? solver.Parameters[rng.Next(solver.Parameters.Count)].Key : Word(rng)), Number(rng));
            default:
                var key = Pick(rng, SpecKeys);
                return (key, key switch
                {
                    "prior" => Pick(rng, Priors),
                    "image" => Pick(rng, Images),
                    "op" => rng.Next(5) == 0 ? Word(rng) : OperatorCatalog.All[rng.Next(OperatorCatalog.All.Count)].Id,
                    "noise" => Pick(rng, Noises),
                    "solver" => SolverId(rng),
                    _ => Number(rng),
                });
        }
    }

    static string SolverId(Random rng) => rng.Next(5) == 0 ? Pick(rng, Solvers) : SolverCatalog.All[rng.Next(SolverCatalog.All.Count)].Id;

    static string Word(Random rng)
    {
        const string alphabet = "abcxyz-_019:./%+ é☃\u0001<>\"'";
        return new string(Enumerable.Range(0, rng.Next(0, rng.Next(10) == 0 ? 200 : 12)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
    }

    /// <summary>Escaped as a link would be, or left raw, or half-escaped with a broken '%' sequence.</summary>
    static string Encode(string text, Random rng) => rng.Next(40) switch
    {
        < 24 => Uri.EscapeDataString(text),
        < 30 => text.Replace(" ", "+"),
        30 => text + (rng.Next(2) == 0 ? "%" : "%G1"),
        _ => text,
    };

    static string Number(Random rng) => rng.Next(8) == 0 ? Pick(rng, NotNumbers) : Pick(rng, Numbers);

    static string Pick(Random rng, string[] choices) => choices[rng.Next(choices.Length)];

    /// <summary>
    /// The link as a request target: anything outside printable ASCII, and the characters that
    /// would end the query ('#') or the request line (space), percent-encoded; '%' is left alone
    /// so broken escapes reach the server as typed.
    /// </summary>
    public static string AsRequestTarget(string path, string query)
    {
        var sb = new StringBuilder(path);
        sb.Append('?');
        foreach (var b in Encoding.UTF8.GetBytes(query.TrimStart('?')))
        {
            if (b is > 0x20 and < 0x7f && b != '#') sb.Append((char)b);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }
}
