using DiffusionLab.Engine;

TorchRuntime.EnsureInitialised();
return DiffusionLab.Cli.CliApp.Run(args);
