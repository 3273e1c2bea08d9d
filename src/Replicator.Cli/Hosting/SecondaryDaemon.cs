using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replicator.Nbd;
using Replicator.Runtime.Control;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Secondary;

namespace Replicator.Cli.Hosting;

/// <summary>
/// <c>replicator secondary</c>: runs the secondary node and its control socket. Once promoted
/// (operator or heartbeat timeout) the node is a primary: a <see cref="PrimaryNode"/> over the same
/// image and state directory tracks every write from the checkpoint it took over from, serves the
/// image over NBD if <c>--nbd</c> was given, and replicates to <c>--peer</c> as soon as a secondary
/// listens there (the old primary, restarted as a secondary, is synced back). The secondary node
/// stays up meanwhile to tell the old primary it is fenced (I6).
/// </summary>
internal sealed partial class SecondaryDaemon(SecondaryNodeOptions options, PrimaryNodeOptions promoted, NbdServerOptions? nbd, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("replicator.secondary");
    private readonly TaskCompletionSource _servingAsPrimary = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private PrimaryNode? _primary;
    private NbdServer? _server;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SecondaryNode node = new(options, loggers.CreateLogger<SecondaryNode>(), TimeProvider.System);
        try
        {
            await node.StartAsync(stoppingToken).ConfigureAwait(false);
            AccessLog.Report(_log, options.LinkKey);
            await using ControlServer control = ControlServer.Start(options.StateDirectory, (command, cancel) => AnswerAsync(node, command, cancel));
            AccessLog.Control(_log, control.SocketPath);

            if (await Task.WhenAny(node.Promotion, node.Fatal).WaitAsync(stoppingToken).ConfigureAwait(false) == node.Fatal)
            {
                throw new InvalidOperationException(await node.Fatal.ConfigureAwait(false));
            }

            long epoch = await node.Promotion.ConfigureAwait(false);
            await RunAsPrimaryAsync(epoch, stoppingToken).ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is HandshakeRefusedException or IOException or InvalidOperationException or InvalidDataException or UnauthorizedAccessException or System.Net.Sockets.SocketException or TimeoutException)
        {
            _servingAsPrimary.TrySetException(e);
            Log.Failed(_log, e.Message);
            Console.Error.WriteLine($"replicator secondary: {e.Message}");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            _servingAsPrimary.TrySetCanceled(CancellationToken.None);
            await StopPrimaryAsync().ConfigureAwait(false);
            if (!node.Fatal.IsCompleted)
            {
                // Within the host's stop bound (10 s), with room to spare for the rest of the stop.
                bool drained = await node.StopCleanlyAsync(TimeSpan.FromSeconds(_primary is null ? 6 : 1)).ConfigureAwait(false);
                if (_primary is null)
                {
                    Log.Stopped(_log, node.Status.LastAppliedEpoch, drained ? "nothing committed is left only in the journal" : "committed epochs still wait in the journal; the next start applies them");
                }
            }

            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The node took over at checkpoint <paramref name="epoch"/>: from now on it is a primary — the
    /// guest's writes go through the write filter (tracked from that checkpoint, so the old primary
    /// can be synced back from the changes alone), and replicate to the peer once one listens.
    /// </summary>
    private async Task RunAsPrimaryAsync(long epoch, CancellationToken stoppingToken)
    {
        var primary = new PrimaryNode(promoted, new DiskOnlyVirtualMachine(), loggers.CreateLogger<PrimaryNode>(), TimeProvider.System);
        await primary.StartAsync(stoppingToken).ConfigureAwait(false);
        Volatile.Write(ref _primary, primary);
        string peer = promoted.Unreplicated ? "nowhere (no --peer: the guest is unprotected)" : $"{promoted.Peer} once a secondary listens there";
        if (nbd is not null)
        {
            var server = new NbdServer(new ReplicatedNbdBackend(primary, promoted.MaxRequestBytes), nbd, loggers.CreateLogger<NbdServer>());
            server.Start();
            Volatile.Write(ref _server, server);
            Log.Serving(_log, epoch, server.LocalEndPoint.ToString(), peer);
        }
        else
        {
            Log.PrimaryWithoutExport(_log, epoch, peer);
        }

        _servingAsPrimary.TrySetResult();
    }

    /// <summary>SIGTERM of a promoted node: stop taking NBD requests, then a last checkpoint if a secondary follows.</summary>
    private async Task StopPrimaryAsync()
    {
        if (_server is { } server)
        {
            await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }

        if (_primary is { } primary)
        {
            try
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await primary.StopCleanlyAsync(limit.Token).ConfigureAwait(false);
                Log.PrimaryStoppedCleanly(_log);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                Log.PrimaryNotClean(_log, e.Message);
            }
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        if (_primary is not null)
        {
            await _primary.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<JsonNode?> AnswerAsync(SecondaryNode node, string command, CancellationToken cancel)
    {
        if (Volatile.Read(ref _primary) is { } primary)
        {
            return command == "failover"
                ? JsonSerializer.SerializeToNode(new { promoted = true, epoch = await node.Promotion.ConfigureAwait(false) })
                : await PrimaryControl.AnswerAsync(primary, "promoted", Volatile.Read(ref _server)?.LocalEndPoint.ToString(), command, cancel).ConfigureAwait(false);
        }

        return command switch
        {
            "status" => JsonSerializer.SerializeToNode(new { role = node.Promotion.IsCompletedSuccessfully ? "promoted" : "secondary", status = node.Status }),
            "failover" => await PromoteAsync(node, cancel).ConfigureAwait(false),
            _ => throw new InvalidOperationException($"a secondary does not know '{command}' (status, failover)"),
        };
    }

    /// <summary>Failover: answered once the node serves as a primary (or with why it will not).</summary>
    private async Task<JsonNode?> PromoteAsync(SecondaryNode node, CancellationToken cancellation)
    {
        long epoch = await node.PromoteAsync().WaitAsync(cancellation).ConfigureAwait(false);

        // The primary's start follows the promotion on the daemon's own task.
        await _servingAsPrimary.Task.WaitAsync(cancellation).ConfigureAwait(false);
        return JsonSerializer.SerializeToNode(new { promoted = true, epoch });
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "promoted at checkpoint {Epoch}; serving the image over NBD on {EndPoint} as a primary, replicating to {Peer}")]
        public static partial void Serving(ILogger logger, long epoch, string endPoint, string peer);

        [LoggerMessage(2, LogLevel.Critical, "secondary stopped: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);

        [LoggerMessage(3, LogLevel.Information, "secondary stopped cleanly: the image holds checkpoint {Epoch}; {Journal}")]
        public static partial void Stopped(ILogger logger, long epoch, string journal);

        [LoggerMessage(4, LogLevel.Warning, "promoted at checkpoint {Epoch}; a primary now (no --nbd: nothing is exported), replicating to {Peer}")]
        public static partial void PrimaryWithoutExport(ILogger logger, long epoch, string peer);

        [LoggerMessage(5, LogLevel.Information, "stopped cleanly after a last checkpoint: the pair can start again from it")]
        public static partial void PrimaryStoppedCleanly(ILogger logger);

        [LoggerMessage(6, LogLevel.Warning, "stopped without a last checkpoint ({Reason}): the peer is synced from the changes when it follows again")]
        public static partial void PrimaryNotClean(ILogger logger, string reason);
    }
}
