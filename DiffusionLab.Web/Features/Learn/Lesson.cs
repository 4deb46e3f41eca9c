namespace DiffusionLab.Web.Features.Learn;

/// <summary>The pages a lesson can open, with the address of each and the controls a lesson may hide or lock there.</summary>
public sealed record LessonPage(string Name, string Path, IReadOnlyList<string> Controls)
{
    /// <summary>The lab: its three cards (the choice of prior and image, of corruption, of solver).</summary>
    public static readonly LessonPage Lab = new("the lab", "/", ["image", "corruption", "solver"]);
    public static readonly LessonPage Compare = new("compare", "/compare", []);
    public static readonly LessonPage Diversity = new("diversity", "/diversity", []);
    /// <summary>The 2-D lab: its three cards (the mixture, the measurement, the solver).</summary>
    public static readonly LessonPage Toy = new("the 2-D lab", "/toy", ["prior", "measurement", "solver"]);
    public static readonly LessonPage Generators = new("VAE & GAN", "/generators", []);

    public static IReadOnlyList<LessonPage> All { get; } = [Lab, Compare, Diversity, Toy, Generators];
}

/// <summary>
/// One short lesson: a preset link into one of the lab's pages, what to notice there, the equation that
/// matters, and the controls the lesson hides (to keep the page about one idea) or locks (shown, but fixed).
/// </summary>
/// <param name="Id">The lesson's name in links (<c>lesson=&lt;id&gt;</c>).</param>
/// <param name="Preset">The page's link as its own "Copy link" would write it (a spec, and compare's <c>solvers</c>
/// or diversity's <c>n</c>); empty for a page that starts from its defaults.</param>
/// <param name="Goal">One sentence for the lesson list: what the lesson shows.</param>
/// <param name="Notice">What to notice on the page, one point each.</param>
/// <param name="Equation">KaTeX source (the lab's macros \sym and \hl may be used).</param>
/// <param name="Hidden">Controls of the page the lesson removes (names from <see cref="LessonPage.Controls"/>).</param>
/// <param name="Locked">Controls whose choice the lesson fixes; their settings stay free to move.</param>
public sealed record Lesson(
    string Id,
    string Title,
    LessonPage Page,
    string Preset,
    string Goal,
    IReadOnlyList<string> Notice,
    string Equation,
    string EquationCaption,
    IReadOnlyList<string> Hidden,
    IReadOnlyList<string> Locked)
{
    /// <summary>The key a page reads its lesson from, beside the spec.</summary>
    public const string QueryKey = "lesson";

    /// <summary>The page's address with the preset and the lesson.</summary>
    public string Href => Page.Path + "?" + (Preset.Length > 0 ? Preset + "&" : "") + QueryKey + "=" + Uri.EscapeDataString(Id);

    public bool Hides(string control) => Hidden.Contains(control, StringComparer.Ordinal);
    public bool Locks(string control) => Locked.Contains(control, StringComparer.Ordinal);
}
