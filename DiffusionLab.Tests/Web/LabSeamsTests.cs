using DiffusionLab.Engine.Runs;
using DiffusionLab.Web;
using DiffusionLab.Web.Runs;
using DiffusionLab.Web.Uploads;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using System.Collections;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;

namespace DiffusionLab.Tests.Web;

/// <summary>
/// The seams a second backend plugs into: the live-run registry, the run store and the uploads are
/// registered once, behind interfaces, each one instance for the whole app; nobody asks for the
/// classes behind them; and no type of the web app keeps state in a static collection, where it
/// would be shared by every app in the process and invisible to the container.
/// </summary>
public sealed class LabSeamsTests
{
    static readonly Type[] Seams = [typeof(ILiveRuns), typeof(IRunStore), typeof(IUploadStore)];

    /// <summary>The classes behind the seams: only AddLab names them.</summary>
    static readonly Type[] Implementations = [typeof(RunService), typeof(RunStore), typeof(UploadedImages)];

    static readonly Assembly Web = typeof(LabServices).Assembly;

    [Fact]
    public void EverySeamResolvesFromTheRealAppToOneSharedInstance()
    {
        IServiceCollection? registered = null;
        using var app = new LabApp("Development").WithWebHostBuilder(builder => builder.ConfigureTestServices(services => registered = services));
        var root = app.Services;
        using var scope = root.CreateScope();

        foreach (var seam in Seams.Append(typeof(ConnectionRuns)))
        {
            Assert.Single(registered!, d => d.ServiceType == seam);
            var first = root.GetRequiredService(seam);
            Assert.IsAssignableFrom(seam, first);
            Assert.Same(first, root.GetRequiredService(seam));
            Assert.Same(first, scope.ServiceProvider.GetRequiredService(seam));
        }

        // Nothing registers the store or the uploads as themselves, so nothing can ask for them so.
        Assert.DoesNotContain(registered!, d => d.ServiceType == typeof(RunStore) || d.ServiceType == typeof(UploadedImages));
        // The registry pages use is the hosted service that starts queued runs, not a second one.
        var liveRuns = root.GetRequiredService<ILiveRuns>();
        Assert.Single(root.GetServices<IHostedService>(), hosted => ReferenceEquals(hosted, liveRuns));
        // The engine's runner finds uploads in the same store the pages add them to.
        Assert.Same(root.GetRequiredService<IUploadStore>(), RunnerUploads(root.GetRequiredService<DiffusionLab.Engine.Runs.Runner>()));
    }

    static object? RunnerUploads(DiffusionLab.Engine.Runs.Runner runner) =>
        runner.GetType().GetFields(BindingFlags.Instance | BindingFlags.NonPublic)
            .Single(f => f.FieldType == typeof(DiffusionLab.Engine.Runs.IUploadedImages)).GetValue(runner);

    [Fact]
    public void PagesHubsAndServicesAskForTheSeamsNotTheClassesBehindThem()
    {
        var found = new List<string>();
        foreach (var type in Web.GetTypes().Where(t => !Implementations.Contains(t)))
        {
            const BindingFlags All = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly;
            // Constructors, hub methods (SignalR injects services into their parameters) and the
            // endpoints' lambdas (compiled into methods of nested types, which GetTypes lists too).
            foreach (var method in type.GetConstructors(All).Cast<MethodBase>().Concat(type.GetMethods(All).Where(m => !m.IsSpecialName)))
                foreach (var parameter in method.GetParameters().Where(p => Implementations.Contains(p.ParameterType)))
                    found.Add($"{type.FullName}.{method.Name}({parameter.ParameterType.Name} {parameter.Name})");
            foreach (var property in type.GetProperties(All).Where(p => p.IsDefined(typeof(InjectAttribute)) && Implementations.Contains(p.PropertyType)))
                found.Add($"{type.FullName}.{property.Name} (@inject {property.PropertyType.Name})");
        }
        Assert.True(found.Count == 0, "These ask for a class behind a seam; ask for its interface:\n" + string.Join("\n", found));
    }

    [Fact]
    public void WhatAConnectionOwnsBelongsToOneAppNotToTheProcess()
    {
        ConnectionRuns one = new(), other = new();
        one.Own("connection-a", "run-1");
        one.Own("connection-a", "run-2");
        one.Own("connection-a", "run-1"); // claiming twice is still one run to stop
        one.Own("connection-b", "run-3");

        Assert.True(one.Owns("connection-a", "run-1"));
        Assert.False(one.Owns("connection-a", "run-3"));
        Assert.False(other.Owns("connection-a", "run-1")); // a second app (a second test server) shares nothing
        Assert.Equal(["run-1", "run-2"], one.Release("connection-a").Order());
        Assert.False(one.Owns("connection-a", "run-1"));
        Assert.Empty(one.Release("connection-a"));
        Assert.True(one.Owns("connection-b", "run-3"));
    }

    [Fact]
    public void NoTypeOfTheWebAppKeepsStateInAStaticField()
    {
        // What the check catches: a mutable collection declared or held in a static field, and any
        // static field that can be reassigned. Nothing is allowed by name.
        Assert.True(IsMutableCollection(new ConcurrentDictionary<string, ConcurrentBag<string>>()), "the check must catch RunHub's old connection map");
        Assert.True(IsMutableCollection(new Queue<int>()) && IsMutableCollection(new int[3]) && IsMutableCollection(new HashSet<int>()));
        Assert.False(IsMutableCollection(System.Collections.Immutable.ImmutableArray.Create(1, 2)));

        var found = new List<string>();
        var fields = 0;
        foreach (var type in Web.GetTypes())
            foreach (var field in type.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (field.IsLiteral) continue; // const
                fields++;
                var name = $"{type.FullName}.{field.Name} ({field.FieldType.Name})";
                if (IsMutableCollectionType(field.FieldType)) found.Add(name + ": a mutable collection type");
                else if (!type.ContainsGenericParameters && IsMutableCollection(field.GetValue(null))) found.Add(name + ": holds a mutable collection");
                // The compiler's own caches (a lambda's delegate, made once) are the only fields it may write later.
                if (!field.IsInitOnly && !IsCompilerGenerated(type)) found.Add(name + ": can be reassigned");
            }
        Assert.True(fields > 0, "the reflection found no static fields at all, so it checked nothing");
        Assert.True(found.Count == 0, "Static state in the web app; keep it in a singleton service registered in AddLab:\n" + string.Join("\n", found));
    }

    static bool IsCompilerGenerated(Type type) =>
        type.IsDefined(typeof(CompilerGeneratedAttribute)) || (type.DeclaringType is { } outer && IsCompilerGenerated(outer));

    static bool IsImmutableNamespace(Type type) =>
        type.Namespace is "System.Collections.Immutable" or "System.Collections.Frozen";

    /// <summary>A field of this type can hold only a collection that can be changed (arrays included).</summary>
    static bool IsMutableCollectionType(Type type)
    {
        if (type.IsArray) return true;
        if (type.IsInterface || IsImmutableNamespace(type) || type == typeof(string)) return false;
        if (type.IsGenericType && type.GetGenericTypeDefinition() is var definition
            && (definition == typeof(System.Collections.ObjectModel.ReadOnlyCollection<>) || definition == typeof(System.Collections.ObjectModel.ReadOnlyDictionary<,>)))
            return false;
        return typeof(ICollection).IsAssignableFrom(type)
            || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() is var d && (d == typeof(ICollection<>) || d == typeof(IProducerConsumerCollection<>)));
    }

    /// <summary>Whether this value (what a field of an interface type may hold) is a collection that can be changed.</summary>
    static bool IsMutableCollection(object? value)
    {
        switch (value)
        {
            case null or string:
                return false;
            case Array array:
                return array.Length > 0; // an empty array has nothing to change
        }
        var type = value.GetType();
        if (IsImmutableNamespace(type)) return false;
        if (value is IList list) return !list.IsReadOnly;
        if (value is IDictionary dictionary) return !dictionary.IsReadOnly;
        var collection = type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(ICollection<>));
        if (collection is not null) return !(bool)collection.GetProperty(nameof(ICollection<int>.IsReadOnly))!.GetValue(value)!;
        return value is ICollection; // Queue, Stack, ConcurrentBag: no read-only form
    }
}
