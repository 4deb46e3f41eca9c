using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DiffusionLab.Web.Runs;

/// <summary>
/// A hub refuses what a visitor asked for (a run id that is gone, a wrong owner key, a spec with
/// problems) by throwing a <see cref="HubException"/>, whose message the visitor sees. SignalR logs
/// every exception a hub method throws as an Error with its stack, so ordinary refusals would bury
/// the real failures. With this, SignalR's Errors that carry a HubException are logged instead at
/// Information, in one line without a stack, under <see cref="Category"/>; every other entry,
/// unexpected exceptions included, passes unchanged.
/// </summary>
public static class HubRefusals
{
    public const string Category = "DiffusionLab.Web.Runs.Refusals";

    /// <summary>
    /// Puts <see cref="RefusalAwareLoggerFactory"/> around the app's logger factory. It has to be the
    /// factory: SignalR makes its hub dispatcher's logger from the factory, not from the container.
    /// </summary>
    public static IServiceCollection AddHubRefusalLogging(this IServiceCollection services) =>
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(provider => new RefusalAwareLoggerFactory(new LoggerFactory(
            provider.GetServices<ILoggerProvider>(),
            provider.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
            provider.GetService<IOptions<LoggerFactoryOptions>>(),
            provider.GetService<IExternalScopeProvider>()))));
}

/// <summary>The app's logger factory, whose SignalR loggers log refusals as <see cref="HubRefusals"/> says.</summary>
sealed class RefusalAwareLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName)
    {
        var logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith("Microsoft.AspNetCore.SignalR", StringComparison.Ordinal)
            ? new RefusalAwareLogger(logger, inner.CreateLogger(HubRefusals.Category))
            : logger;
    }

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();
}

sealed class RefusalAwareLogger(ILogger inner, ILogger refusals) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (logLevel >= LogLevel.Error && exception is HubException refusal)
        {
            refusals.LogInformation(eventId, "Refused {HubMethod}: {Reason}", HubMethod(state) ?? formatter(state, null), refusal.Message);
            return;
        }
        inner.Log(logLevel, eventId, state, exception, formatter);
    }

    /// <summary>The hub method SignalR's entry names, when it names one.</summary>
    static object? HubMethod<TState>(TState state) =>
        state is IEnumerable<KeyValuePair<string, object?>> values ? values.FirstOrDefault(v => v.Key == "HubMethod").Value : null;
}
