namespace DiffusionLab.Engine.Imaging;

/// <summary>
/// A small RGBA picture to lay frames out on, for exports meant to be projected: pictures are
/// copied in enlarged by whole pixels, and short labels are written in a built-in 5×7 pixel font
/// (digits, lower-case letters and a little punctuation), so an export looks the same on every
/// machine without depending on the fonts installed there.
/// </summary>
public sealed class RgbaCanvas
{
    public const int GlyphWidth = 5, GlyphHeight = 7;

    public RgbaCanvas(int width, int height, (byte R, byte G, byte B) background)
    {
        if (width < 1 || height < 1) throw new ArgumentOutOfRangeException(nameof(width), "a canvas needs a positive size");
        Width = width;
        Height = height;
        Pixels = new byte[width * height * 4];
        for (var i = 0; i < Pixels.Length; i += 4)
            (Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]) = (background.R, background.G, background.B, 255);
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>Row-major straight RGBA bytes.</summary>
    public byte[] Pixels { get; }

    /// <summary>Copies an RGBA picture in at (x, y), each of its pixels a scale × scale block; what falls outside is cut.</summary>
    public void Draw(byte[] rgba, int width, int height, int x, int y, int scale = 1)
    {
        if (rgba.Length != width * height * 4) throw new ArgumentException($"the picture is not {width}×{height} RGBA", nameof(rgba));
        for (var row = 0; row < height * scale; row++)
        {
            var targetY = y + row;
            if (targetY < 0 || targetY >= Height) continue;
            for (var column = 0; column < width * scale; column++)
            {
                var targetX = x + column;
                if (targetX < 0 || targetX >= Width) continue;
                Buffer.BlockCopy(rgba, ((row / scale) * width + column / scale) * 4, Pixels, (targetY * Width + targetX) * 4, 4);
            }
        }
    }

    /// <summary>Writes <paramref name="text"/> with its top-left corner at (x, y), each font pixel a scale × scale block; returns the width written.</summary>
    public int Write(string text, int x, int y, int scale, (byte R, byte G, byte B) colour)
    {
        var advance = (GlyphWidth + 1) * scale;
        var cursor = x;
        foreach (var character in text.ToLowerInvariant())
        {
            var glyph = Font.GetValueOrDefault(character, Font['?']);
            for (var row = 0; row < GlyphHeight; row++)
                for (var column = 0; column < GlyphWidth; column++)
                    if (glyph[row][column] == '#') Fill(cursor + column * scale, y + row * scale, scale, scale, colour);
            cursor += advance;
        }
        return cursor - x;
    }

    /// <summary>How wide <paramref name="text"/> is when written at <paramref name="scale"/>.</summary>
    public static int TextWidth(string text, int scale) => text.Length * (GlyphWidth + 1) * scale;

    public void Fill(int x, int y, int width, int height, (byte R, byte G, byte B) colour)
    {
        for (var row = Math.Max(0, y); row < Math.Min(Height, y + height); row++)
            for (var column = Math.Max(0, x); column < Math.Min(Width, x + width); column++)
            {
                var i = (row * Width + column) * 4;
                (Pixels[i], Pixels[i + 1], Pixels[i + 2], Pixels[i + 3]) = (colour.R, colour.G, colour.B, 255);
            }
    }

    public byte[] ToPng() => FrameEncoder.EncodeRgba(Pixels, Width, Height);

    static readonly Dictionary<char, string[]> Font = new()
    {
        [' '] = [".....", ".....", ".....", ".....", ".....", ".....", "....."],
        ['?'] = [".###.", "#...#", "....#", "...#.", "..#..", ".....", "..#.."],
        ['.'] = [".....", ".....", ".....", ".....", ".....", ".##..", ".##.."],
        [','] = [".....", ".....", ".....", ".....", ".##..", "..#..", ".#..."],
        [':'] = [".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."],
        ['='] = [".....", ".....", "#####", ".....", "#####", ".....", "....."],
        ['-'] = [".....", ".....", ".....", "#####", ".....", ".....", "....."],
        ['_'] = [".....", ".....", ".....", ".....", ".....", ".....", "#####"],
        ['/'] = ["....#", "...#.", "...#.", "..#..", ".#...", ".#...", "#...."],
        ['('] = ["...#.", "..#..", ".#...", ".#...", ".#...", "..#..", "...#."],
        [')'] = [".#...", "..#..", "...#.", "...#.", "...#.", "..#..", ".#..."],
        ['|'] = ["..#..", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
        ['0'] = [".###.", "#...#", "#..##", "#.#.#", "##..#", "#...#", ".###."],
        ['1'] = ["..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."],
        ['2'] = [".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"],
        ['3'] = ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
        ['4'] = ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
        ['5'] = ["#####", "#....", "####.", "....#", "....#", "#...#", ".###."],
        ['6'] = [".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."],
        ['7'] = ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
        ['8'] = [".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."],
        ['9'] = [".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."],
        ['a'] = [".....", ".....", ".###.", "....#", ".####", "#...#", ".####"],
        ['b'] = ["#....", "#....", "####.", "#...#", "#...#", "#...#", "####."],
        ['c'] = [".....", ".....", ".###.", "#....", "#....", "#...#", ".###."],
        ['d'] = ["....#", "....#", ".####", "#...#", "#...#", "#...#", ".####"],
        ['e'] = [".....", ".....", ".###.", "#...#", "#####", "#....", ".###."],
        ['f'] = ["..##.", ".#..#", ".#...", "###..", ".#...", ".#...", ".#..."],
        ['g'] = [".....", ".####", "#...#", "#...#", ".####", "....#", ".###."],
        ['h'] = ["#....", "#....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        ['i'] = ["..#..", ".....", ".##..", "..#..", "..#..", "..#..", ".###."],
        ['j'] = ["...#.", ".....", "..##.", "...#.", "...#.", "#..#.", ".##.."],
        ['k'] = ["#....", "#....", "#..#.", "#.#..", "##...", "#.#..", "#..#."],
        ['l'] = [".##..", "..#..", "..#..", "..#..", "..#..", "..#..", ".###."],
        ['m'] = [".....", ".....", "##.#.", "#.#.#", "#.#.#", "#...#", "#...#"],
        ['n'] = [".....", ".....", "#.##.", "##..#", "#...#", "#...#", "#...#"],
        ['o'] = [".....", ".....", ".###.", "#...#", "#...#", "#...#", ".###."],
        ['p'] = [".....", ".....", "####.", "#...#", "####.", "#....", "#...."],
        ['q'] = [".....", ".....", ".####", "#...#", ".####", "....#", "....#"],
        ['r'] = [".....", ".....", "#.##.", "##..#", "#....", "#....", "#...."],
        ['s'] = [".....", ".....", ".####", "#....", ".###.", "....#", "####."],
        ['t'] = [".#...", ".#...", "###..", ".#...", ".#...", ".#..#", "..##."],
        ['u'] = [".....", ".....", "#...#", "#...#", "#...#", "#..##", ".##.#"],
        ['v'] = [".....", ".....", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
        ['w'] = [".....", ".....", "#...#", "#...#", "#.#.#", "#.#.#", ".#.#."],
        ['x'] = [".....", ".....", "#...#", ".#.#.", "..#..", ".#.#.", "#...#"],
        ['y'] = [".....", ".....", "#...#", "#...#", ".####", "....#", ".###."],
        ['z'] = [".....", ".....", "#####", "...#.", "..#..", ".#...", "#####"],
    };
}
