using Replicator.Sim;

return SimulatorCommand.Run(args, Console.Out);
