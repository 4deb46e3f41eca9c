using DiffusionLab.Engine.Methods;
using DiffusionLab.Web.Features.Learn;
using DiffusionLab.Web.Features.Maths;
using Microsoft.Playwright;
using System.Text.RegularExpressions;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lessons and the maths on screen in a real browser (Debian's Chromium): /learn walked from the
/// first lesson to the last, each opening its preset under its lesson bar, and the lab's maths panel
/// rendered by KaTeX for every solver its picker offers.
/// </summary>
public sealed class LearnBrowserTests(BrowserFixture browser) : IClassFixture<BrowserFixture>
{
    static string Shot(string name) => Path.Combine(BrowserFixture.ScreenshotFolder, name);

    [Fact]
    public async Task The_lessons_walk_from_the_first_to_the_last_each_opening_its_preset_under_its_bar()
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(1280, 800);
        await page.GotoAsync("/learn");
        await Assertions.Expect(page.Locator(".lab-appbar a[href='/learn']")).ToHaveCountAsync(1);
        // Every lesson's equation is typeset once the circuit is up and KaTeX has loaded.
        await Assertions.Expect(page.Locator(".learn-equation .katex")).ToHaveCountAsync(Lessons.All.Count, new() { Timeout = 30_000 });
        Assert.Equal(0, await page.Locator(".katex-error").CountAsync());
        await page.ScreenshotAsync(new() { Path = Shot("learn-1280x800.png") });
        await page.SetViewportSizeAsync(420, 900);
        await page.WaitForTimeoutAsync(200);
        Assert.True(await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"),
            "/learn scrolls sideways at 420 px");
        await page.ScreenshotAsync(new() { Path = Shot("learn-420x900.png") });
        await page.SetViewportSizeAsync(1280, 800);

        await page.ClickAsync("[data-testid=learn-start]");
        for (var i = 0; i < Lessons.All.Count; i++)
        {
            var lesson = Lessons.All[i];
            await Assertions.Expect(page).ToHaveURLAsync(new Regex(Regex.Escape(lesson.Page.Path) + @"\?.*lesson=" + Regex.Escape(lesson.Id)));
            var bar = page.Locator($"[data-testid=lesson-bar][data-lesson='{lesson.Id}']");
            await Assertions.Expect(bar).ToBeVisibleAsync();
            await Assertions.Expect(bar).ToContainTextAsync($"Lesson {i + 1} of {Lessons.All.Count}");
            await Assertions.Expect(bar.Locator(".lesson-equation .katex")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
            await WaitForPageAsync(page, lesson);

            foreach (var control in lesson.Hidden)
                await Assertions.Expect(page.Locator($"[data-card={control}]")).ToBeHiddenAsync();
            foreach (var control in lesson.Locked)
                await Assertions.Expect(page.Locator($"[data-card={control}]")).ToContainTextAsync("Fixed by the lesson.");
            if (lesson.Page == LessonPage.Lab)
            {
                // The preset's solver is the one chosen, its maths beside the panels, and the address keeps the lesson.
                var solver = Regex.Match(lesson.Preset, "(?:^|&)solver=([^&]+)").Groups[1].Value;
                await Assertions.Expect(page.Locator("[data-testid=solver-maths]")).ToHaveAttributeAsync("data-solver", solver);
                await Assertions.Expect(page).ToHaveURLAsync(new Regex("solver=" + Regex.Escape(solver) + ".*&lesson=" + Regex.Escape(lesson.Id) + "$"));
                Assert.Equal(0, await page.Locator("[data-testid=link-notes]").CountAsync());
            }
            if (lesson.Id == "dps")
            {
                await page.ScreenshotAsync(new() { Path = Shot("lesson-bar-lab-1280x800.png") });
                await page.SetViewportSizeAsync(420, 900);
                await page.WaitForTimeoutAsync(200);
                await page.ScreenshotAsync(new() { Path = Shot("lesson-bar-lab-420x900.png") });
                await page.SetViewportSizeAsync(1280, 800);
            }
            Assert.Equal(0, await page.Locator(".katex-error").CountAsync());

            await page.ClickAsync(i + 1 < Lessons.All.Count ? "[data-testid=lesson-next]" : "[data-testid=lesson-done]");
        }
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/learn$"));
    }

    static async Task WaitForPageAsync(IPage page, Lesson lesson)
    {
        if (lesson.Page == LessonPage.Lab) await LabBrowserTests.WaitForInteractiveAsync(page);
        else if (lesson.Page == LessonPage.Toy)
            await Assertions.Expect(page.Locator("[data-testid=toy-canvas]")).ToHaveAttributeAsync("data-scenes", new Regex("^[1-9]"), new() { Timeout = 30_000 });
        else await Assertions.Expect(page.Locator(".classroom[data-ready=true]")).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    [Fact]
    public async Task The_lab_shows_the_rendered_update_rule_of_every_solver_in_its_picker()
    {
        var page = await browser.NewPageAsync();
        await page.SetViewportSizeAsync(1280, 800);
        await page.GotoAsync("/?prior=pixel-faces-32&op=gaussian-blur&solver=ddpm&steps=20");
        await LabBrowserTests.WaitForInteractiveAsync(page);
        var panel = page.Locator("[data-testid=solver-maths]");
        var select = page.Locator("[data-testid=solver-select]").Locator("xpath=ancestor-or-self::div[contains(@class,'mud-select')][1]").First;
        var items = page.Locator(".mud-popover-open .mud-list-item");

        // The picker offers the whole catalog, in its order.
        await select.ClickAsync();
        await Assertions.Expect(items).ToHaveCountAsync(SolverCatalog.All.Count);
        var offered = await items.CountAsync();
        await page.Keyboard.PressAsync("Escape");
        await Assertions.Expect(items).ToHaveCountAsync(0);

        for (var i = 0; i < offered; i++)
        {
            var solver = SolverCatalog.All[i];
            await LabBrowserTests.PickAsync(page, select, items.Nth(i));
            await Assertions.Expect(panel).ToHaveAttributeAsync("data-solver", solver.Id);
            var formula = SolverFormulas.For(solver.Id);
            Assert.True(formula is not null, $"no update rule for {solver.Id}");
            // Each line typeset by KaTeX, the approximated term highlighted, its symbols explaining themselves.
            await Assertions.Expect(panel.Locator("[data-testid=maths-line] .katex")).ToHaveCountAsync(formula.Lines.Count, new() { Timeout = 15_000 });
            await Assertions.Expect(panel.Locator("[data-testid=bayes-rule] .katex")).ToHaveCountAsync(solver.Family == SolverFamily.Posterior ? 1 : 0);
            Assert.Equal(0, await panel.Locator(".katex-error").CountAsync());
            Assert.True(await panel.Locator(".maths-line .katex .hl").CountAsync() > 0, $"{solver.Id}: nothing highlighted");
            Assert.True(await panel.Locator(".maths-line [data-sym][title][tabindex='0']").CountAsync() > 0, $"{solver.Id}: no symbol explains itself");
        }

        // Tapping a symbol explains it under the formula (touch has no hover).
        await select.ClickAsync();
        await items.Filter(new() { HasText = "(DPS)" }).First.ClickAsync();
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-solver", "dps");
        await panel.Locator(".maths-line [data-sym=zeta]").First.ClickAsync();
        var note = panel.Locator("[data-role=symbol-note]");
        await Assertions.Expect(note).ToBeVisibleAsync();
        await Assertions.Expect(note).ToContainTextAsync("guidance step");
        // The app bar is fixed over the page's top: the panel is centred in the window for its pictures.
        await panel.EvaluateAsync("p => p.scrollIntoView({ block: 'center' })");
        await page.ScreenshotAsync(new() { Path = Shot("maths-panel-dps-1280x800.png") });
        await page.SetViewportSizeAsync(420, 900);
        await page.WaitForTimeoutAsync(200);
        await panel.EvaluateAsync("p => p.scrollIntoView({ block: 'start' })");
        await page.EvaluateAsync("() => window.scrollBy(0, -80)");
        await page.ScreenshotAsync(new() { Path = Shot("maths-panel-dps-420x900.png") });
        Assert.True(await panel.EvaluateAsync<bool>("p => p.getBoundingClientRect().right <= window.innerWidth + 1"),
            "the maths panel reaches past a 420 px screen");
    }
}
