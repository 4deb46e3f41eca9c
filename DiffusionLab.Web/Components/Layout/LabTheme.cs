using MudBlazor;

namespace DiffusionLab.Web.Components.Layout;

/// <summary>
/// Colours and type for a projector: high contrast, large readable text, and only the fonts
/// already on the viewer's machine (the app loads no font files from anywhere).
/// </summary>
public static class LabTheme
{
    // A fresh array for each typography: MudBlazor takes a plain string[], and one static array shared by all would be mutable static state.
    static string[] SystemFonts => ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"];

    public static MudTheme Theme { get; } = new()
    {
        PaletteLight = new PaletteLight
        {
            Primary = "#3b4bd8",
            Secondary = "#d6336c",
            AppbarBackground = "#1d2340",
            AppbarText = "#ffffff",
            Background = "#f3f4f8",
            Surface = "#ffffff",
            TextPrimary = "#1b1e2b",
            TextSecondary = "#4a4f63",
        },
        Typography = new Typography
        {
            Default = new DefaultTypography { FontFamily = SystemFonts, FontSize = "1rem" },
            H5 = new H5Typography { FontFamily = SystemFonts, FontWeight = "700" },
            H6 = new H6Typography { FontFamily = SystemFonts, FontWeight = "650" },
            Subtitle1 = new Subtitle1Typography { FontFamily = SystemFonts },
            Body1 = new Body1Typography { FontFamily = SystemFonts, FontSize = "1rem" },
            Body2 = new Body2Typography { FontFamily = SystemFonts, FontSize = "0.95rem" },
            Button = new ButtonTypography { FontFamily = SystemFonts, FontWeight = "650" },
            Caption = new CaptionTypography { FontFamily = SystemFonts, FontSize = "0.85rem" },
        },
        LayoutProperties = new LayoutProperties { DefaultBorderRadius = "10px" },
    };
}
