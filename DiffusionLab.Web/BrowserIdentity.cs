using System.Security.Cryptography;

namespace DiffusionLab.Web;

/// <summary>
/// A random id this server gives each browser in a cookie, so that a saved run or diversity batch can
/// be deleted by the browser that made it and by nobody else (a class shares one server and one
/// /runs list). Not a login: it tells browsers apart, it does not say who anyone is. A browser that
/// clears its cookies gets a new id and can no longer delete its earlier runs; eviction still
/// removes them when the store is full.
/// </summary>
public static class BrowserIdentity
{
    public const string CookieName = "diffusionlab-browser";

    /// <summary>What a hub says when asked to start work by a connection that sent no browser cookie.</summary>
    public const string MissingMessage =
        "This connection sent no browser cookie, and work is shared out per browser: open the lab's page once in this browser (it sets the cookie), then connect with its cookies.";

    /// <summary>32 lower-case hex digits, as <see cref="Of"/> makes them; anything else is not an id.</summary>
    public static bool IsWellFormed(string? id) => id is { Length: 32 } && id.All(char.IsAsciiHexDigitLower);

    /// <summary>The id this request's browser sent, or null when it sent none (or a malformed one). Sets nothing.</summary>
    public static string? Sent(HttpContext? context) =>
        context?.Request.Cookies[CookieName] is { } id && IsWellFormed(id) ? id : null;

    /// <summary>The browser's id for this request, creating one (and its cookie) when the browser has none. App calls it once per page request.</summary>
    public static string Of(HttpContext context)
    {
        var id = Sent(context);
        if (id is null)
        {
            id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
            if (!context.Response.HasStarted)
                context.Response.Cookies.Append(CookieName, id, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Lax,
                    Secure = context.Request.IsHttps,
                    IsEssential = true,
                    MaxAge = TimeSpan.FromDays(365),
                    Path = "/",
                });
        }
        return id;
    }
}
