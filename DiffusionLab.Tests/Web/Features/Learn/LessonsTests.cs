using Bunit;
using DiffusionLab.Engine;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Lab;
using DiffusionLab.Web.Features.Learn;
using DiffusionLab.Web.Features.Maths;
using DiffusionLab.Web.Features.Shared;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor.Services;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The lessons (Lessons.cs, the file a teacher edits): every preset opens exactly as written, on this
/// lab's real catalog; every hidden or locked control exists on its page; and the list and the lesson
/// bar, rendered with bUnit, lead from one lesson to the next.
/// </summary>
public sealed class LessonsTests : IAsyncLifetime
{
    static readonly LabCatalog Lab = new(PriorCatalog.ForContentRoot(ContentRoot.Find()));

    readonly BunitContext context = new();

    public LessonsTests()
    {
        context.Services.AddMudServices();
        context.JSInterop.Mode = JSRuntimeMode.Loose;
    }

    public static TheoryData<string> LessonIds() => [.. Lessons.All.Select(l => l.Id)];

    [Theory]
    [MemberData(nameof(LessonIds))]
    public void A_lessons_link_opens_its_preset_with_nothing_replaced_clamped_or_left_out(string id)
    {
        var lesson = Lessons.Find(id)!;
        var query = new Uri(new Uri("http://lab/"), lesson.Href).Query;
        Assert.Equal(id, Lessons.IdIn(query));

        if (lesson.Page == LessonPage.Lab || lesson.Page == LessonPage.Compare || lesson.Page == LessonPage.Diversity)
        {
            // Read as the page reads it: the lab through its form, compare and diversity through ClassroomSpec.
            var link = SpecLink.Read(query, Lab, pageKeys: lesson.Page == LessonPage.Lab ? Lessons.PageKeys : ClassroomSpec.PageKeys);
            Assert.True(link.Notes.Count == 0, $"{id}: {string.Join(" ", link.Notes)}");
            Assert.Empty(link.Problems);
            Assert.Empty(link.Spec.Validate(Lab));
            Assert.Contains("prior", link.Given); // a lesson names its prior: the server's default may change
            Assert.Contains("op", link.Given);
            if (lesson.Page == LessonPage.Lab)
            {
                var form = new LabForm(Lab);
                Assert.Empty(form.LoadLink(query));
                Assert.False(form.HasErrors);
                Assert.Contains("solver", link.Given);
            }
            else
            {
                Assert.Empty(ClassroomSpec.Read(query, Lab).Notes);
                if (link.PageValues.TryGetValue("solvers", out var solvers))
                    Assert.All(solvers.Split(','), s => Assert.NotNull(Lab.FindSolver(s)));
                if (link.PageValues.TryGetValue("n", out var n))
                    Assert.InRange(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture), 2, 16);
            }
        }
        else
        {
            // The 2-D lab and the generators page read no spec: a preset there would be silently ignored.
            Assert.Equal("", lesson.Preset);
            Assert.Equal("?lesson=" + id, query);
        }
    }

    [Fact]
    public void Lessons_have_unique_ids_and_hide_or_lock_only_controls_their_page_has()
    {
        Assert.Equal(Lessons.All.Count, Lessons.All.Select(l => l.Id).Distinct().Count());
        Assert.All(Lessons.All, lesson =>
        {
            Assert.All(lesson.Hidden.Concat(lesson.Locked), c => Assert.True(lesson.Page.Controls.Contains(c), $"{lesson.Id}: {lesson.Page.Name} has no control '{c}'"));
            Assert.Empty(lesson.Hidden.Intersect(lesson.Locked));
            Assert.InRange(lesson.Notice.Count, 1, 4);
            Assert.All(SolverFormulas.SymbolKeys([lesson.Equation]), key => Assert.NotNull(MathSymbols.Find(key)));
            Assert.False(string.IsNullOrWhiteSpace(lesson.Equation));
        });
        // The path the issue asks for, in order, and every page of the lab is visited.
        Assert.Equal(["forward", "prior-sampling", "bayes", "sdedit", "score-ald", "dps", "hqs-admm", "ambiguity", "dps-wrong", "generators"],
            Lessons.All.Select(l => l.Id));
        Assert.Equal(LessonPage.All.ToHashSet(), Lessons.All.Select(l => l.Page).ToHashSet());
    }

    [Fact]
    public void The_list_shows_every_lesson_in_order_with_its_link_and_equation()
    {
        context.JSInterop.SetupModule("./Features/Maths/MathsScope.razor.js").Mode = JSRuntimeMode.Loose;
        var page = context.Render<Learn>();

        var items = page.FindAll("[data-testid=lesson-list] > li");
        Assert.Equal(Lessons.All.Select(l => l.Id), items.Select(i => i.GetAttribute("data-lesson")));
        Assert.Equal(Lessons.All.Select(l => l.Href), page.FindAll("a[data-testid=lesson-open]").Select(a => a.GetAttribute("href")));
        Assert.Equal(Lessons.All.Select(l => l.Equation), page.FindAll(".learn-equation [data-tex]").Select(e => e.GetAttribute("data-tex")));
        Assert.Equal(Lessons.All[0].Href, page.Find("[data-testid=learn-start]").GetAttribute("href"));
        Assert.Contains("opens the 2-D lab", items[0].TextContent);
    }

    [Fact]
    public void The_lesson_bar_leads_back_and_on_and_says_what_the_lesson_fixes()
    {
        context.JSInterop.SetupModule("./Features/Maths/MathsScope.razor.js").Mode = JSRuntimeMode.Loose;
        var dps = Lessons.Find("dps")!;
        context.Services.GetRequiredService<NavigationManager>().NavigateTo(dps.Href);
        var bar = context.Render<LessonBar>(p => p.Add(b => b.LeaveHref, "/?prior=pixel-faces-32&solver=dps"));

        Assert.Equal("dps", bar.Find("[data-testid=lesson-bar]").GetAttribute("data-lesson"));
        Assert.Contains($"Lesson {Lessons.NumberOf(dps)} of {Lessons.All.Count}", bar.Markup);
        Assert.Equal(Lessons.Find("score-ald")!.Href, bar.Find("[data-testid=lesson-prev]").GetAttribute("href"));
        Assert.Equal(Lessons.Find("hqs-admm")!.Href, bar.Find("[data-testid=lesson-next]").GetAttribute("href"));
        Assert.Equal("/learn#dps", bar.Find("[data-testid=lesson-list]").GetAttribute("href"));
        Assert.Equal("/?prior=pixel-faces-32&solver=dps", bar.Find("[data-testid=lesson-leave]").GetAttribute("href"));
        Assert.All(bar.FindAll(".lesson-nav a"), a => Assert.Equal("_top", a.GetAttribute("target"))); // each lesson loads its preset afresh
        Assert.Equal(dps.Notice.Count, bar.FindAll(".lesson-notice li").Count);
        Assert.Equal(dps.Equation, bar.Find(".lesson-equation [data-tex]").GetAttribute("data-tex"));
        Assert.Equal("This lesson fixes the choice of solver and hides the image controls, to keep the page on one idea. Leave the lesson to change them.",
            bar.Find("[data-testid=lesson-controls]").TextContent);
    }

    [Fact]
    public void The_first_and_last_lessons_have_no_previous_and_no_next_and_an_unknown_lesson_says_so()
    {
        context.JSInterop.SetupModule("./Features/Maths/MathsScope.razor.js").Mode = JSRuntimeMode.Loose;
        var navigation = context.Services.GetRequiredService<NavigationManager>();

        navigation.NavigateTo(Lessons.All[0].Href);
        var first = context.Render<LessonBar>();
        Assert.Empty(first.FindAll("[data-testid=lesson-prev]"));
        Assert.Equal("/toy", first.Find("[data-testid=lesson-leave]").GetAttribute("href")); // this address without its lesson

        navigation.NavigateTo(Lessons.All[^1].Href);
        var last = context.Render<LessonBar>();
        Assert.Empty(last.FindAll("[data-testid=lesson-next]"));
        Assert.Equal("/learn", last.Find("[data-testid=lesson-done]").GetAttribute("href"));

        navigation.NavigateTo("/compare?op=denoise&lesson=no-such-lesson");
        var unknown = context.Render<LessonBar>();
        Assert.Empty(unknown.FindAll("[data-testid=lesson-bar]"));
        Assert.Contains("There is no lesson called 'no-such-lesson'", unknown.Find("[data-testid=lesson-unknown]").TextContent);

        navigation.NavigateTo("/compare?op=denoise");
        Assert.Empty(context.Render<LessonBar>().Markup.Trim());
    }

    [Fact]
    public void A_locked_picker_keeps_its_settings_free_but_not_its_choice()
    {
        var form = new LabForm(Lab);
        Assert.Empty(form.LoadLink(Lessons.Find("sdedit")!.Href.Split('?')[1]));
        var picker = context.Render<SolverPicker>(p => p.Add(c => c.Form, form).Add(c => c.Locked, true));

        Assert.Contains("Fixed by the lesson.", picker.Markup);
        Assert.Equal("true", picker.Find("[data-testid=solver-select]").GetAttribute("aria-disabled"));
        Assert.False(picker.Find("input[data-testid='solver.t0']").HasAttribute("disabled")); // t0 is what the lesson asks to move

        var free = context.Render<SolverPicker>(p => p.Add(c => c.Form, form));
        Assert.DoesNotContain("Fixed by the lesson.", free.Markup);
        Assert.NotEqual("true", free.Find("[data-testid=solver-select]").GetAttribute("aria-disabled"));
    }

    public Task InitializeAsync() => Task.CompletedTask;
    public Task DisposeAsync() => context.DisposeAsync().AsTask();
}
