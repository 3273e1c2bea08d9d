using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Replicator.Cli.CommandLine;
using Replicator.Cli.Diagnostics;
using Replicator.Cli.Hosting.Vm;
using Replicator.Core.Vm;
using Replicator.Hosts.Primary;
using Replicator.Nbd;
using Replicator.Runtime.Control;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Secondary;

namespace Replicator.Cli.Hosting;

/// <summary>
/// <c>replicator primary</c> and <c>replicator secondary</c>: one node, in the role its command
/// starts it in, changing role as the pair's life asks. A secondary that is promoted (failover,
/// switchover) becomes a primary over the same image and state directory — serving the export and
/// replicating to <c>--peer</c> — while its secondary node stays up to tell the old primary it is
/// fenced (I6). A primary that hands over in a switchover becomes a secondary listening on
/// <c>--listen</c>. The nodes decide; this only starts and stops them, moves the export, and
/// answers the control socket for whichever role runs.
/// </summary>
internal sealed partial class NodeDaemon(NodeDaemonOptions options, ILoggerFactory loggers, IHostApplicationLifetime lifetime, ISystemdNotifier systemd) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger(options.StartsAs == NodeRoles.Primary ? "replicator.primary" : "replicator.secondary");
    private readonly object _gate = new();
    private NodeRun _run = NodeRun.Starting;
    private SecondaryNode? _secondary;
    private PrimaryNode? _primary;
    private NbdServer? _server;
    private DaemonVm? _vm;
    private PrimaryCheckpointStats? _stats;
    private ControlServer? _control;
    private long _promotedAt = -1;
    private long _promotedTimestamp;
    private TaskCompletionSource _servingAsPrimary = NewSignal();
    private TaskCompletionSource<PendingSwitchover> _switchoverAsked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PendingSwitchover? _switchoverAnswerDue;

    /// <summary>What runs now.</summary>
    private enum NodeRun
    {
        Starting,
        Secondary,
        Primary,
        Promoted,
        ChangingRole,
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        NodeRun next = options.StartsAs == NodeRoles.Primary ? NodeRun.Primary : NodeRun.Secondary;
        try
        {
            AccessLog.Report(_log, options.LinkKey);
            if (options.MetricsUrl is { } metrics)
            {
                Log.Metrics(_log, metrics);
            }
            while (!stoppingToken.IsCancellationRequested)
            {
                next = next == NodeRun.Secondary
                    ? await RunSecondaryAsync(stoppingToken).ConfigureAwait(false)
                    : await RunPrimaryAsync(next, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await StopCleanlyAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is HandshakeRefusedException or IOException or InvalidOperationException or InvalidDataException or UnauthorizedAccessException or System.Net.Sockets.SocketException or TimeoutException)
        {
            Log.Failed(_log, RoleWord, e.Message);
            Console.Error.WriteLine($"replicator {RoleWord}: {e.Message}");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            if (_control is not null)
            {
                await _control.DisposeAsync().ConfigureAwait(false);
            }

            _servingAsPrimary.TrySetCanceled(CancellationToken.None);
            _switchoverAnswerDue?.Answer.TrySetException(new InvalidOperationException("the node stopped during the switchover"));
            await DisposeNodesAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Where the export listens, as logs, status and answers show it (<c>HOST:PORT</c> or <c>unix:PATH</c>); null without one.</summary>
    private static string? NbdAddress(NbdServer? server) => server is null ? null : NbdEndPoints.Describe(server.LocalEndPoint);

    private string RoleWord => options.StartsAs == NodeRoles.Primary ? "primary" : "secondary";

    /// <summary>Follows a primary until promoted: the promoted primary's role comes next.</summary>
    private async Task<NodeRun> RunSecondaryAsync(CancellationToken stoppingToken)
    {
        SecondaryNodeOptions secondaryOptions = options.Secondary ?? throw new InvalidOperationException("this node has no --listen: it cannot run as a secondary");
        var node = new SecondaryNode(secondaryOptions, loggers.CreateLogger<SecondaryNode>(), TimeProvider.System);
        lock (_gate)
        {
            _secondary = node;
        }

        await node.StartAsync(stoppingToken).ConfigureAwait(false);
        StartControl();
        SetRun(NodeRun.Secondary);

        // Under systemd (Type=notify): ready once the node listens for its primary.
        systemd.Notify(ServiceState.Ready);
        AnswerSwitchover(JsonSerializer.SerializeToNode(new { role = "secondary", listening = secondaryOptions.Listen.ToString() }));
        if (await Task.WhenAny(node.Promotion, node.Fatal).WaitAsync(stoppingToken).ConfigureAwait(false) == node.Fatal)
        {
            throw new InvalidOperationException(await node.Fatal.ConfigureAwait(false));
        }

        _promotedAt = await node.Promotion.ConfigureAwait(false);
        _promotedTimestamp = Stopwatch.GetTimestamp();
        SetRun(NodeRun.ChangingRole);
        return NodeRun.Promoted;
    }

    /// <summary>
    /// Serves as a primary (started as one, or promoted) until a switchover hands the role over —
    /// then a secondary's role comes next — or fails to, and the primary starts again.
    /// </summary>
    private async Task<NodeRun> RunPrimaryAsync(NodeRun role, CancellationToken stoppingToken)
    {
        PrimaryNodeOptions primaryOptions = role == NodeRun.Promoted ? options.Promoted : options.Primary ?? options.Promoted;
        if (role == NodeRun.Promoted && SecondaryNodeNow?.Takeover is { IsOpen: true } takeover)
        {
            // Served at once: the committed epochs the promotion took over drain beneath the export.
            primaryOptions = primaryOptions with { Takeover = takeover };
        }

        // With --vm qemu the node runs the guest; a promoted node resumes it from the checkpoint it
        // took over (read now, before the node's own checkpoints begin), once its export serves.
        DaemonVm? vm = options.Vm is null ? null : new DaemonVm(options.Vm, Path.Combine(options.StateDirectory, VmConsoleLog), _log);
        if (vm is not null)
        {
            // QEMU's stop waits for the guest's requests in flight, which the node must still take.
            primaryOptions = primaryOptions with { GuestPausesLater = true };
        }

        // Read (128 MiB for the test guest) while the node starts, which needs none of it.
        SecondaryNode? takenFrom = vm is not null && role == NodeRun.Promoted ? SecondaryNodeNow : null;
        Task<(VmState State, long ReadyAt)>? resumeFrom = takenFrom is null ? null : Task.Run(() => (takenFrom.TakeoverVmState(), Stopwatch.GetTimestamp()));
        var primary = new PrimaryNode(primaryOptions, vm ?? (IVirtualMachine)new DiskOnlyVirtualMachine(), loggers.CreateLogger<PrimaryNode>(), TimeProvider.System);
        primary.VmPauseFailed += reason => Log.VmPauseFailed(_log, reason);
        var stats = new PrimaryCheckpointStats(withVm: vm is not null);
        primary.CheckpointCompleted = stats.Checkpoints.Record;
        if (vm is not null)
        {
            vm.CheckpointTaken = stats.Vm!.Record;
        }

        NbdServer? server = options.Nbd is null ? null : new NbdServer(new ReplicatedNbdBackend(primary, primaryOptions.MaxRequestBytes), options.Nbd, loggers.CreateLogger<NbdServer>(), meter: primary.Meter);

        // The export's endpoint first: a port in use or a path taken stops the start before the node
        // writes anything (a new data generation, a dirty log) it could not take back.
        server?.Listen();
        try
        {
            await primary.StartAsync(stoppingToken).ConfigureAwait(false);
        }
        catch
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            if (vm is not null)
            {
                await vm.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        server?.Start();
        lock (_gate)
        {
            _primary = primary;
            _server = server;
            _vm = vm;
            _stats = stats;
        }

        if (vm is not null && server is not null)
        {
            // QEMU only now: its disk is the export, which serves from here on.
            if (resumeFrom is not null)
            {
                // QEMU starts while the state is read: each takes about as long as the other.
                Task prepared = vm.PrepareRestoreAsync(server.LocalEndPoint, stoppingToken);
                (VmState state, long readyAt) = await resumeFrom.ConfigureAwait(false);
                await prepared.ConfigureAwait(false);
                long restoring = Stopwatch.GetTimestamp();
                await vm.RestoreAsync(state, server.LocalEndPoint, stoppingToken).ConfigureAwait(false);

                // Up to QEMU's answer to cont (the adapter's own set-up for its next checkpoint follows it).
                long running = vm.RestoredRunningAt ?? Stopwatch.GetTimestamp();
                Log.VmResumed(_log, state.Epoch, Stopwatch.GetElapsedTime(_promotedTimestamp, running).TotalMilliseconds,
                    Stopwatch.GetElapsedTime(_promotedTimestamp, readyAt).TotalMilliseconds, Stopwatch.GetElapsedTime(_promotedTimestamp, restoring).TotalMilliseconds, Stopwatch.GetElapsedTime(restoring, running).TotalMilliseconds,
                    vm.LastRestore?.ToString() ?? "no breakdown");
            }
            else
            {
                await vm.StartAsync(server.LocalEndPoint, stoppingToken).ConfigureAwait(false);
            }
        }

        string peer = primaryOptions.Unreplicated ? "nowhere (replication off)" : primaryOptions.Peer.ToString();
        if (role == NodeRun.Promoted)
        {
            Log.ServingPromoted(_log, _promotedAt, NbdAddress(server) ?? "nowhere (no --nbd)", primaryOptions.Unreplicated ? "nowhere (no --peer: the guest is unprotected)" : $"{peer} once a secondary listens there");
        }
        else
        {
            Log.Serving(_log, NbdAddress(server) ?? "nowhere", peer);
        }

        StartControl();
        SetRun(role);

        // Under systemd (Type=notify): ready only now, with the handshake done and the export serving.
        systemd.Notify(ServiceState.Ready);
        _servingAsPrimary.TrySetResult();
        AnswerSwitchover(JsonSerializer.SerializeToNode(new { role = role == NodeRun.Promoted ? "promoted" : "primary", nbd = NbdAddress(server) }));

        PendingSwitchover asked = await _switchoverAsked.Task.WaitAsync(stoppingToken).ConfigureAwait(false);
        _switchoverAsked = new(TaskCreationOptions.RunContinuationsAsynchronously);
        return await SwitchOverAsync(asked, role, primary, server).ConfigureAwait(false);
    }

    /// <summary>
    /// The switchover, as the operator asked it of this primary: the export stops taking requests
    /// (those in flight finish), the node takes a last checkpoint and hands over, and the node then
    /// follows the new primary — or, when nothing was handed over, is the primary again.
    /// </summary>
    private async Task<NodeRun> SwitchOverAsync(PendingSwitchover asked, NodeRun role, PrimaryNode primary, NbdServer? server)
    {
        SetRun(NodeRun.ChangingRole);
        long started = Stopwatch.GetTimestamp();
        if (server is not null)
        {
            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        long quiet = Stopwatch.GetTimestamp();
        SwitchoverResult result = await primary.SwitchOverAsync().ConfigureAwait(false);
        long ended = Stopwatch.GetTimestamp();
        Log.SwitchedOver(_log, result.Outcome.ToString(), result.Detail);

        lock (_gate)
        {
            _primary = null;
            _server = null;
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        await primary.DisposeAsync().ConfigureAwait(false);
        _switchoverAnswerDue = asked with
        {
            Report = new SwitchoverReport(result.Outcome.ToString(), result.Epoch, result.Detail,
                Stopwatch.GetElapsedTime(started, quiet).TotalMilliseconds, Stopwatch.GetElapsedTime(quiet, ended).TotalMilliseconds),
        };

        if (!result.GaveUpPrimaryRole)
        {
            _servingAsPrimary = NewSignal();
            return role;
        }

        // The secondary node kept to fence the old primary gives its --listen to the follower.
        await DisposeSecondaryAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        _servingAsPrimary = NewSignal();
        return NodeRun.Secondary;
    }

    /// <summary>The switchover's answer, once the role that follows it runs.</summary>
    private void AnswerSwitchover(JsonNode? now)
    {
        if (_switchoverAnswerDue is not { } due)
        {
            return;
        }

        _switchoverAnswerDue = null;
        JsonNode? answer = JsonSerializer.SerializeToNode(due.Report);
        answer!["now"] = now;
        due.Answer.TrySetResult(answer);
    }

    /// <summary>The secondary node, while one runs (following a primary, or kept after its promotion).</summary>
    private SecondaryNode? SecondaryNodeNow
    {
        get
        {
            lock (_gate)
            {
                return _secondary;
            }
        }
    }

    /// <summary>What runs now, read together.</summary>
    private (NodeRun Run, SecondaryNode? Secondary, PrimaryNode? Primary, NbdServer? Server) Running()
    {
        lock (_gate)
        {
            return (_run, _secondary, _primary, _server);
        }
    }

    private Task<JsonNode?> AnswerAsync(string command, CancellationToken cancel)
    {
        (NodeRun run, SecondaryNode? secondary, PrimaryNode? primary, NbdServer? server) = Running();

        if (run is NodeRun.Primary or NodeRun.Promoted && primary is not null)
        {
            return command switch
            {
                "switchover" => AskSwitchoverAsync(cancel),
                "failover" when run == NodeRun.Promoted => Task.FromResult(JsonSerializer.SerializeToNode(new { promoted = true, epoch = _promotedAt })),
                "failover" => throw new InvalidOperationException("this node is the primary: a failover is asked of the secondary"),
                "checkpoint-stats" or "checkpoint-stats --reset" => Task.FromResult(JsonSerializer.SerializeToNode(StatsNow()!.Report(reset: command.EndsWith("--reset", StringComparison.Ordinal)))),
                "drained" => AnswerDrainedAsync(primary, run == NodeRun.Promoted ? _promotedAt : null, cancel),
                _ => PrimaryControl.AnswerAsync(primary, run == NodeRun.Promoted ? "promoted" : "primary", NbdAddress(server), command, cancel),
            };
        }

        if (run == NodeRun.Secondary && secondary is not null)
        {
            return command switch
            {
                "status" => Task.FromResult(JsonSerializer.SerializeToNode(new { role = "secondary", status = secondary.Status })),
                "failover" => PromoteAsync(secondary, cancel),
                "switchover" => throw new InvalidOperationException("this node is the secondary: a switchover is asked of the primary"),
                "drained" => throw new InvalidOperationException("this node is the secondary: it has taken nothing over to drain (ask a promoted node)"),
                _ => throw new InvalidOperationException($"a secondary does not know '{command}' (status, failover)"),
            };
        }

        return command == "status"
            ? Task.FromResult(JsonSerializer.SerializeToNode(new { role = run == NodeRun.ChangingRole ? "changing role" : "starting", status = (object?)null }))
            : throw new InvalidOperationException($"the node is {(run == NodeRun.ChangingRole ? "changing role" : "starting")}: ask again in a moment");
    }

    /// <summary>The checkpoints of the primary that runs now (the control command <c>checkpoint-stats</c>).</summary>
    private PrimaryCheckpointStats? StatsNow()
    {
        lock (_gate)
        {
            return _stats;
        }
    }

    /// <summary>
    /// The control command <c>drained</c>: answers once the image file alone holds the checkpoint this
    /// node took over at (<paramref name="takenOver"/>; null on a node started as the primary).
    /// </summary>
    private static async Task<JsonNode?> AnswerDrainedAsync(PrimaryNode primary, long? takenOver, CancellationToken cancel)
    {
        await primary.TakeoverDrained.WaitAsync(cancel).ConfigureAwait(false);
        return JsonSerializer.SerializeToNode(new { drained = true, takeoverEpoch = takenOver });
    }

    /// <summary>What <c>replicator events</c> follows: the role that runs now and its status (the export's address with a primary's).</summary>
    private StatusSample Sample()
    {
        (NodeRun run, SecondaryNode? secondary, PrimaryNode? primary, NbdServer? server) = Running();

        if (run is NodeRun.Primary or NodeRun.Promoted && primary is not null)
        {
            var state = (JsonObject)JsonSerializer.SerializeToNode(primary.Status)!;
            state["Nbd"] = NbdAddress(server);
            return new StatusSample(run == NodeRun.Promoted ? "promoted" : "primary", state);
        }

        return run == NodeRun.Secondary && secondary is not null
            ? new StatusSample("secondary", (JsonObject)JsonSerializer.SerializeToNode(secondary.Status)!)
            : new StatusSample(run == NodeRun.ChangingRole ? "changing role" : "starting", null);
    }

    private async Task<JsonNode?> AskSwitchoverAsync(CancellationToken cancel)
    {
        if (options.Vm is not null)
        {
            // The guest would have to move with the role: the switchover's last checkpoint handed
            // to the new primary with QEMU stopped here and restored there. Not built yet.
            throw new InvalidOperationException("a switchover with --vm qemu is not supported yet: stop the primary (SIGTERM) and fail over instead");
        }

        if (options.Secondary is null)
        {
            throw new InvalidOperationException("this node has no --listen: after a switchover it would follow nobody. Restart it with --listen HOST:PORT (where its peer's --peer points)");
        }

        var asked = new PendingSwitchover(new TaskCompletionSource<JsonNode?>(TaskCreationOptions.RunContinuationsAsynchronously), null);
        if (!_switchoverAsked.TrySetResult(asked))
        {
            throw new InvalidOperationException("a switchover is already under way");
        }

        return await asked.Answer.Task.WaitAsync(cancel).ConfigureAwait(false);
    }

    /// <summary>Failover: answered once the node serves as a primary (or with why it will not).</summary>
    private async Task<JsonNode?> PromoteAsync(SecondaryNode node, CancellationToken cancellation)
    {
        long epoch = await node.PromoteAsync().WaitAsync(cancellation).ConfigureAwait(false);

        // The primary's start follows the promotion on the daemon's own task.
        await _servingAsPrimary.Task.WaitAsync(cancellation).ConfigureAwait(false);
        return JsonSerializer.SerializeToNode(new { promoted = true, epoch });
    }

    /// <summary>SIGTERM: a primary stops taking requests and takes a last checkpoint; a secondary applies what it committed.</summary>
    private async Task StopCleanlyAsync()
    {
        systemd.Notify(ServiceState.Stopping);
        NbdServer? server;
        PrimaryNode? primary;
        lock (_gate)
        {
            (server, primary) = (_server, _primary);
        }

        if (server is not null)
        {
            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (primary is not null)
        {
            try
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await primary.StopCleanlyAsync(limit.Token).ConfigureAwait(false);
                Log.StoppedCleanly(_log);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                Log.NotClean(_log, e.Message);
            }
        }
    }

    private async Task DisposeNodesAsync()
    {
        NbdServer? server;
        PrimaryNode? primary;
        DaemonVm? vm;
        lock (_gate)
        {
            (server, primary, vm) = (_server, _primary, _vm);
            _server = null;
            _primary = null;
            _vm = null;
        }

        if (server is not null)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        if (primary is not null)
        {
            await primary.DisposeAsync().ConfigureAwait(false);
        }

        // The guest stops with the node, after the node's last checkpoint (which captured it).
        if (vm is not null)
        {
            await vm.DisposeAsync().ConfigureAwait(false);
        }

        // A secondary that follows drains what it committed (within the host's 10 s stop bound), as
        // does a promoted one whose takeover is still draining (what is left, the next start
        // replays); one kept only to fence the old primary has nothing to drain.
        bool draining = primary is null || SecondaryNodeNow?.Takeover is { IsOpen: true };
        await DisposeSecondaryAsync(draining ? TimeSpan.FromSeconds(6) : TimeSpan.FromSeconds(1)).ConfigureAwait(false);
    }

    private async Task DisposeSecondaryAsync(TimeSpan drainBound)
    {
        SecondaryNode? node;
        lock (_gate)
        {
            node = _secondary;
            _secondary = null;
        }

        if (node is null)
        {
            return;
        }

        if (!node.Fatal.IsCompleted)
        {
            bool drained = await node.StopCleanlyAsync(drainBound).ConfigureAwait(false);
            if (!node.Promotion.IsCompleted)
            {
                Log.SecondaryStopped(_log, node.Status.LastAppliedEpoch, drained ? "nothing committed is left only in the journal" : "committed epochs still wait in the journal; the next start applies them");
            }
        }

        await node.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>The control socket, once the first role's node has opened its state directory (which holds the socket).</summary>
    private void StartControl()
    {
        if (_control is null)
        {
            var events = new StatusEvents(Sample, TimeProvider.System, StatusEvents.DefaultInterval);
            _control = ControlServer.Start(options.StateDirectory, AnswerAsync, (command, cancel) => command == "events" ? events.StreamAsync(cancel) : null);
            AccessLog.Control(_log, _control.SocketPath);
        }
    }

    private void SetRun(NodeRun run)
    {
        lock (_gate)
        {
            _run = run;
        }
    }

    /// <summary>The guest's serial console, in the state directory.</summary>
    internal const string VmConsoleLog = "vm-console.log";

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A switchover asked on the control socket: answered once the role after it runs.</summary>
    private sealed record PendingSwitchover(TaskCompletionSource<JsonNode?> Answer, SwitchoverReport? Report);

    /// <summary>What <c>replicator switchover</c> prints: the outcome, the checkpoint handed over at, and how long each step took here.</summary>
    private sealed record SwitchoverReport(string Outcome, long Epoch, string Detail, double StopTakingRequestsMs, double CheckpointAndHandoverMs);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "exporting the protected disk over NBD on {EndPoint}, replicating to {Peer}")]
        public static partial void Serving(ILogger logger, string endPoint, string peer);

        [LoggerMessage(2, LogLevel.Critical, "{Role} stopped: {Reason}")]
        public static partial void Failed(ILogger logger, string role, string reason);

        [LoggerMessage(3, LogLevel.Information, "stopped cleanly after a last checkpoint: the pair can start again from it")]
        public static partial void StoppedCleanly(ILogger logger);

        [LoggerMessage(4, LogLevel.Warning, "stopped without a last checkpoint ({Reason}): the peer is synced from what the dirty log names when it follows again")]
        public static partial void NotClean(ILogger logger, string reason);

        [LoggerMessage(5, LogLevel.Warning, "promoted at checkpoint {Epoch}; serving the image over NBD on {EndPoint} as a primary, replicating to {Peer}")]
        public static partial void ServingPromoted(ILogger logger, long epoch, string endPoint, string peer);

        [LoggerMessage(6, LogLevel.Information, "secondary stopped cleanly: the image holds checkpoint {Epoch}; {Journal}")]
        public static partial void SecondaryStopped(ILogger logger, long epoch, string journal);

        [LoggerMessage(8, LogLevel.Information, "metrics for Prometheus at {Url}")]
        public static partial void Metrics(ILogger logger, string url);

        [LoggerMessage(10, LogLevel.Error, "QEMU did not pause for a checkpoint: {Reason}")]
        public static partial void VmPauseFailed(ILogger logger, string reason);

        [LoggerMessage(9, LogLevel.Warning, "the guest runs again from checkpoint {Epoch}, {Ms:F0} ms after the promotion (its VM state read by {StateMs:F0} ms, the node serving, the state read and QEMU started by {ServingMs:F0} ms, the guest restored in {RestoreMs:F0} ms more: {Restore})")]
        public static partial void VmResumed(ILogger logger, long epoch, double ms, double stateMs, double servingMs, double restoreMs, string restore);

        [LoggerMessage(7, LogLevel.Warning, "switchover {Outcome}: {Detail}")]
        public static partial void SwitchedOver(ILogger logger, string outcome, string detail);
    }
}
