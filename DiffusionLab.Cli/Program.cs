using DiffusionLab.Engine;

TorchRuntime.EnsureInitialised();
return await DiffusionLab.Cli.Verbs.RunAsync(args);
