using System.CommandLine;
using System.CommandLine.Invocation;
using Replicator.Cli.Bench;
using Replicator.Cli.Commands;

namespace Replicator.Cli.CommandLine;

/// <summary>
/// Every command people type, parsed strictly: typed values with the option named in the error,
/// unknown and misspelt options refused with a suggestion, options of the other daemon refused by
/// name, <c>--help</c> on each, and exit code 2 for every usage error.
/// </summary>
internal static class ReplicatorCommandLine
{
    /// <summary>The exit code of every usage error.</summary>
    public const int UsageError = 2;

    public static async Task<int> RunAsync(string[] args)
    {
        RootCommand root = Build();
        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // The library's report (each error, and "did you mean" for a misspelt option), then 2.
            new ParseErrorAction { ShowHelp = false, ShowTypoCorrections = true }.Invoke(parsed);
            Command command = parsed.CommandResult.Command;
            Console.Error.WriteLine(command is RootCommand ? "(replicator --help lists the commands)" : $"(replicator {command.Name} --help lists its options)");
            return UsageError;
        }

        // The daemons stop on SIGTERM through the generic host (a last checkpoint, a clean stop):
        // the parser must not take the signal over and end the process first.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
    }

    public static RootCommand Build()
    {
        var root = new RootCommand("Replicator: micro-checkpointing replication of a VM disk to a secondary host. docs/operations.md is the runbook.");
        root.Subcommands.Add(Daemon(NodeRoles.Secondary, "run the secondary: hold the primary's writes by epoch, commit them with each checkpoint, serve the image after failover"));
        root.Subcommands.Add(Daemon(NodeRoles.Primary, "run the primary: export the protected disk over NBD and mirror every write to the secondary"));
        root.Subcommands.Add(WitnessCommand.Build(Positive));
        root.Subcommands.Add(Control("checkpoint", "take a checkpoint now and wait for the secondary's acknowledgement"));
        root.Subcommands.Add(Control("failover", "promote the secondary now"));
        root.Subcommands.Add(Control("drained", "run on a promoted node: wait until the committed epochs it took over, served from RAM meanwhile, are written back (the image file alone then holds the checkpoint)"));
        root.Subcommands.Add(Control("switchover", "run on the primary: a last checkpoint, then the secondary takes over and this node follows it (planned; nothing acknowledged is lost)"));
        root.Subcommands.Add(Control("status", "show a running node's status"));
        root.Subcommands.Add(Events());
        root.Subcommands.Add(CheckpointStats());
        root.Subcommands.Add(Verify());
        root.Subcommands.Add(SyncRate());
        root.Subcommands.Add(Keygen());
        root.Subcommands.Add(DiscardMyData());
        root.Subcommands.Add(Demote());
        root.Subcommands.Add(Demo());
        root.Subcommands.Add(BuildGuest());
        root.Subcommands.Add(Bench());
        return root;
    }

    private static Command Daemon(NodeRoles role, string description)
    {
        var options = new DaemonOptions(role);
        var command = new Command(options.RoleName, description + ". Settings also come from appsettings.json and REPLICATOR__Replicator__<Name> variables; the command line wins.");
        options.All.ForEach(command.Options.Add);
        command.SetAction((parsed, _) => DaemonCommand.RunAsync(options, parsed));
        return command;
    }

    private static Command Control(string name, string description)
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the node's state directory", Required = true };
        var timeout = new Option<int>("--timeout") { Description = "give up after this many ms (default 120000)", DefaultValueFactory = _ => 120_000 };
        timeout.Validators.Add(r => Positive(r, timeout));
        var command = new Command(name, description) { stateDir, timeout };
        if (name != "status")
        {
            command.SetAction((parsed, _) => ControlCommand.RunAsync(name, parsed.GetValue(stateDir)!, json: false, TimeSpan.FromMilliseconds(parsed.GetValue(timeout))));
            return command;
        }

        var json = new Option<bool>("--json") { Description = "print the status as JSON, for scripts" };
        var watch = new Option<bool>("--watch") { Description = "redraw the status twice a second until interrupted (or until --timeout, when given)" };
        var untilSynced = new Option<bool>("--until-synced") { Description = "a primary: show its running sync as a progress bar and return when it completes (within --timeout)" };
        command.Options.Add(json);
        command.Options.Add(watch);
        command.Options.Add(untilSynced);
        command.Validators.Add(r =>
        {
            if (r.GetValue(json) && (r.GetValue(watch) || r.GetValue(untilSynced)))
            {
                r.AddError("--json prints the status once: drop --watch and --until-synced (replicator events streams changes as JSON)");
            }

            if (r.GetValue(watch) && r.GetValue(untilSynced))
            {
                r.AddError("choose --watch (redraw until interrupted) or --until-synced (until the sync completes), not both");
            }
        });
        command.SetAction((parsed, _) =>
        {
            string directory = parsed.GetValue(stateDir)!;
            TimeSpan wait = TimeSpan.FromMilliseconds(parsed.GetValue(timeout));
            return parsed.GetValue(untilSynced) ? SyncWatchCommand.RunAsync(directory, wait, Console.Out)
                : parsed.GetValue(watch) ? StatusWatchCommand.RunAsync(directory, parsed.GetResult(timeout) is { Implicit: false } ? wait : null, Console.Out)
                : ControlCommand.RunAsync(name, directory, parsed.GetValue(json), wait);
        });
        return command;
    }

    private static Command Events()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the running node's state directory (primary, secondary or witness)", Required = true };
        var timeout = new Option<int?>("--timeout") { Description = "stop after this many ms (exit 0); without it, until the node stops" };
        timeout.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is <= 0)
            {
                r.AddError("--timeout must be positive");
            }
        });
        var command = new Command("events", "stream a running node's state changes as JSON lines: the whole status first (exists), then each change (change, role)") { stateDir, timeout };
        command.SetAction((parsed, _) => EventsCommand.RunAsync(
            parsed.GetValue(stateDir)!,
            parsed.GetValue(timeout) is { } ms ? TimeSpan.FromMilliseconds(ms) : null,
            Console.Out,
            Console.Error));
        return command;
    }

    private static Command Keygen()
    {
        var output = new Option<string>("--out") { Description = "where to write the pair key (owner-only; never over an existing file)", Required = true };
        var command = new Command("keygen", "make a pair key for the replication link; copy it to both nodes") { output };
        command.SetAction(parsed => KeygenCommand.Run(parsed.GetValue(output)!, Console.Out, Console.Error));
        return command;
    }

    private static Command BuildGuest()
    {
        var output = new Option<string>("--out") { Description = "the directory to build it in (default: the one demo --vm and the tests use)" };
        var command = new Command("build-guest", "build the counting test guest that demo --vm and the tests boot (a Debian cloud kernel and a busybox initramfs; docs/vm.md)") { output };
        command.SetAction(parsed => BuildGuestCommand.Run(parsed.GetValue(output), Console.Out, Console.Error));
        return command;
    }

    private static Command CheckpointStats()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the running primary's state directory", Required = true };
        var reset = new Option<bool>("--reset") { Description = "start counting afresh after this answer" };
        var command = new Command("checkpoint-stats", "a running primary's acknowledged checkpoints since it started serving (or the last --reset): rate, commit latency, pause and phases in µs, exact percentiles; with --vm qemu also where the guest's pauses went (JSON)") { stateDir, reset };
        command.SetAction((parsed, _) => ControlCommand.RunAsync(parsed.GetValue(reset) ? "checkpoint-stats --reset" : "checkpoint-stats", parsed.GetValue(stateDir)!, json: false, TimeSpan.FromSeconds(30)));
        return command;
    }

    private static Command Verify()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the running primary's state directory", Required = true };
        var repair = new Option<bool>("--repair") { Description = "copy the regions of the blocks that differ from the primary to the secondary" };
        var timeout = new Option<int>("--timeout") { Description = "give up after this many ms (default 3600000)", DefaultValueFactory = _ => 3_600_000 };
        timeout.Validators.Add(r => Positive(r, timeout));
        var command = new Command("verify", "compare the primary's image with the secondary's, block by block, while the guest runs; exit 0 when equal (or repaired), 3 when they differ") { stateDir, repair, timeout };
        command.SetAction((parsed, _) => VerifyCommand.RunAsync(parsed.GetValue(stateDir)!, parsed.GetValue(repair), TimeSpan.FromMilliseconds(parsed.GetValue(timeout)), Console.Out, Console.Error));
        return command;
    }

    private static Command SyncRate()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the running primary's state directory", Required = true };
        var mbps = new Option<int>("--mbps") { Description = "the sync's new rate limit in MB/s; 0 lifts it", Required = true };
        mbps.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--mbps must be 0 (no limit) or more");
            }
        });
        var command = new Command("sync-rate", "change the rate limit of the primary's sync (full sync, resync, repair) while it runs") { stateDir, mbps };
        command.SetAction((parsed, _) => ControlCommand.RunAsync($"sync-rate {parsed.GetValue(mbps).ToString(System.Globalization.CultureInfo.InvariantCulture)}", parsed.GetValue(stateDir)!, json: false, TimeSpan.FromSeconds(30)));
        return command;
    }

    private static Command Demote()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the stopped node's state directory", Required = true };
        var command = new Command("demote", "make a stopped node that took over follow its peer when next started as a secondary (its writes since are copied back over)") { stateDir };
        command.SetAction((parsed, _) => DemoteCommand.RunAsync(parsed.GetValue(stateDir)!, Console.Out, Console.Error));
        return command;
    }

    private static Command DiscardMyData()
    {
        var stateDir = new Option<string>("--state-dir") { Description = "the stopped node's state directory", Required = true };
        var command = new Command("discard-my-data", "resolve a split brain: this stopped node gives up its data and becomes a blank secondary, synced whole from the other") { stateDir };
        command.SetAction((parsed, _) => DiscardMyDataCommand.RunAsync(parsed.GetValue(stateDir)!, Console.Out, Console.Error));
        return command;
    }

    private static Command Demo()
    {
        var seed = new Option<int?>("--seed") { Description = "replay a run (printed by every run)" };
        var inProcess = new Option<bool>("--in-process") { Description = "the same story on the core alone, in one process" };
        var requests = new Option<int>("--requests") { Description = "with --in-process: guest requests to issue", DefaultValueFactory = _ => 20_000 };
        requests.Validators.Add(r => Positive(r, requests));
        var vm = new Option<bool>("--vm") { Description = "the same story with a real QEMU guest that counts: the resumed guest must count on from the checkpoint taken over (docs/vm.md)" };
        var command = new Command("demo", "the main job: a pair of processes, the guest, SIGKILL of the primary, failover and a verdict") { seed, inProcess, requests, vm };
        command.Validators.Add(r =>
        {
            if (r.GetResult(requests) is { Implicit: false } && !r.GetValue(inProcess))
            {
                r.AddError("--requests is for demo --in-process");
            }

            if (r.GetValue(vm) && r.GetValue(inProcess))
            {
                r.AddError("--vm runs real processes and QEMU: it does not go with --in-process");
            }
        });
        command.SetAction(async (parsed, _) =>
        {
            int runSeed = parsed.GetValue(seed) ?? (Environment.TickCount & 0x7fffffff);
            if (parsed.GetValue(vm))
            {
                return await VmDemoCommand.RunAsync(runSeed, Console.Out).ConfigureAwait(false);
            }

            return parsed.GetValue(inProcess)
                ? InProcessDemoCommand.Run(runSeed, parsed.GetValue(requests), Console.Out)
                : await DemoCommand.RunAsync(runSeed, Console.Out).ConfigureAwait(false);
        });
        return command;
    }

    private static Command Bench()
    {
        var quick = new Option<bool>("--quick") { Description = "3 configurations instead of the full sweep" };
        var json = new Option<string?>("--json") { Description = "write every figure as JSON here" };
        var plot = new Option<string?>("--plot") { Description = "write the latency plot here (SVG)" };
        plot.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } path && !path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase))
            {
                r.AddError("--plot writes SVG: give a path ending in .svg");
            }
        });
        var seed = new Option<int>("--seed") { Description = "the guest's seed", DefaultValueFactory = _ => 1 };
        var dir = new Option<string?>("--dir") { Description = "work (and keep files) here instead of a temporary directory" };
        var floorOnly = new Option<bool>("--floor-only") { Description = "measure the floor alone (link round trip and bandwidth, fdatasync) and print it as one line of JSON" };
        var vm = new Option<bool>("--vm") { Description = "the pair protecting a real QEMU guest instead: checkpoint rate achieved at 20, 40 and 100 Hz (--quick: 40), commit latency, the pause and QEMU's part of it, the RAM diff against memory bandwidth (docs/vm.md)" };
        var command = new Command("bench", "epoch-commit latency, pauses and throughput of a pair of processes against the measured floor (docs/performance.md)") { quick, json, plot, seed, dir, floorOnly, vm };
        command.Validators.Add(r =>
        {
            if (r.GetValue(vm) && (r.GetValue(plot) is not null || r.GetValue(dir) is not null || r.GetValue(floorOnly) || r.GetResult(seed) is { Implicit: false }))
            {
                r.AddError("bench --vm takes only --quick and --json");
            }
        });
        command.SetAction((parsed, _) => parsed.GetValue(vm)
            ? VmBenchCommand.RunAsync(parsed.GetValue(quick), parsed.GetValue(json), Console.Out)
            : BenchCommand.RunAsync(new BenchArguments(parsed.GetValue(quick), parsed.GetValue(json), parsed.GetValue(plot), parsed.GetValue(seed), parsed.GetValue(dir), parsed.GetValue(floorOnly)), Console.Out));
        return command;
    }

    /// <summary>A value that parses but is not positive (one that does not parse is the parser's own error).</summary>
    private static bool Positive(System.CommandLine.Parsing.OptionResult result, Option<int> option)
    {
        if (result.Tokens.Count > 0 && int.TryParse(result.Tokens[0].Value, System.Globalization.CultureInfo.InvariantCulture, out int value) && value <= 0)
        {
            result.AddError($"{option.Name} must be a positive number");
            return false;
        }

        return true;
    }
}
