using Replicator.Cli.Bench;
using Replicator.Cli.Commands;

return args switch
{
    ["keygen", .. var rest] => KeygenCommand.Run(rest, Console.Out, Console.Error),
    ["demo", "--in-process", .. var rest] => InProcessDemoCommand.Run(rest, Console.Out),
    ["demo", .. var rest] => await DemoCommand.RunAsync(rest, Console.Out),
    ["demo-primary", .. var rest] => await DemoPrimaryCommand.RunAsync(rest),
    ["bench", .. var rest] => await BenchCommand.RunAsync(rest, Console.Out),
    ["bench-primary", .. var rest] => await BenchPrimaryCommand.RunAsync(rest),
    [("primary" or "secondary") and var role, .. var rest] => await DaemonCommand.RunAsync(role, rest),
    [("checkpoint" or "failover" or "status") and var command, .. var rest] => await ControlCommand.RunAsync(command, rest),
    ["--help" or "-h" or "help"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static int Usage(TextWriter to, int exitCode)
{
    to.WriteLine("""
        usage:
          replicator keygen    --out FILE          a pair key for the link (owner-only); copy it to both nodes
          replicator secondary --image PATH --listen HOST:PORT --state-dir DIR --link-key FILE [--nbd HOST:PORT] [--auto-failover]
                               [--max-pending-links N]
          replicator primary   --image PATH --peer HOST:PORT --nbd HOST:PORT --state-dir DIR --link-key FILE [--epoch-ms N] [--reconnect-ms N]
                               [--ack-timeout-ms N]
          replicator primary   --image PATH --no-replication --nbd HOST:PORT --state-dir DIR   (unprotected: no secondary)
          replicator checkpoint --state-dir DIR [--timeout MS]   take a checkpoint now, wait for the secondary's ack
          replicator failover   --state-dir DIR      promote the secondary now
          replicator status     --state-dir DIR [--json]
          replicator demo [--seed N]                 the main job: a pair of processes, SIGKILL, failover, verdict
          replicator demo --in-process [--seed N] [--requests N]   the same story on the core alone
          replicator bench [--quick] [--json PATH] [--plot PATH] [--seed N] [--dir DIR]
                                                     epoch-commit latency, pauses and throughput of a pair of
                                                     processes against the measured floor (docs/performance.md)

        common options: --pair-id ID, --buffer-mb N, --ram-kb N, --max-request-kb N,
                        --heartbeat-ms N, --heartbeat-timeout-ms N, --link-handshake-timeout-ms N,
                        --insecure-link (instead of --link-key: the link unauthenticated and unencrypted)
        settings also come from appsettings.json and REPLICATOR__Replicator__<Name> variables.
        """);
    return exitCode;
}
