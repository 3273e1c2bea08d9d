using Replicator.Cli.Bench;
using Replicator.Cli.CommandLine;
using Replicator.Cli.Commands;

// demo-primary and bench-primary are started by demo and bench, with arguments those write; every
// command people type goes through the strict parser.
return args switch
{
    ["demo-primary", .. var rest] => await DemoPrimaryCommand.RunAsync(rest),
    ["bench-primary", .. var rest] => await BenchPrimaryCommand.RunAsync(rest),
    _ => await ReplicatorCommandLine.RunAsync(args),
};
