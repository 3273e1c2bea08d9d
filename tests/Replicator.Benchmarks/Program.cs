using BenchmarkDotNet.Running;

// Every benchmark class of this assembly; pick with --filter, shorten with --job short.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
