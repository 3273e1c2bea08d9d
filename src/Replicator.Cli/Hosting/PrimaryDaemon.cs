using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replicator.Nbd;
using Replicator.Runtime.Control;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Primary;

namespace Replicator.Cli.Hosting;

/// <summary>
/// <c>replicator primary</c>: connects to the secondary, exports the protected disk over NBD
/// (every client write goes through the write filter), and serves its control socket.
/// </summary>
internal sealed partial class PrimaryDaemon(PrimaryNodeOptions options, NbdServerOptions nbd, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("replicator.primary");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        PrimaryNode node = new(options, new DiskOnlyVirtualMachine(), loggers.CreateLogger<PrimaryNode>(), TimeProvider.System);
        NbdServer? server = null;
        try
        {
            await node.StartAsync(stoppingToken).ConfigureAwait(false);
            server = new NbdServer(new ReplicatedNbdBackend(node, options.MaxRequestBytes), nbd, loggers.CreateLogger<NbdServer>());
            server.Start();
            Log.Serving(_log, server.LocalEndPoint.ToString(), options.Unreplicated ? "nowhere (replication off)" : options.Peer.ToString());
            if (!options.Unreplicated)
            {
                AccessLog.Report(_log, options.LinkKey);
            }
            await using ControlServer control = ControlServer.Start(options.StateDirectory, (command, cancel) => PrimaryControl.AnswerAsync(node, "primary", server.LocalEndPoint.ToString(), command, cancel));
            AccessLog.Control(_log, control.SocketPath);

            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // SIGTERM: stop taking NBD requests, then a last checkpoint so the pair can restart.
            if (server is not null)
            {
                await server.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }

            try
            {
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await node.StopCleanlyAsync(limit.Token).ConfigureAwait(false);
                Log.StoppedCleanly(_log);
            }
            catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
            {
                Log.NotClean(_log, e.Message);
            }
        }
        catch (Exception e) when (e is HandshakeRefusedException or IOException or InvalidOperationException or InvalidDataException or UnauthorizedAccessException or System.Net.Sockets.SocketException or TimeoutException)
        {
            Log.Failed(_log, e.Message);
            Console.Error.WriteLine($"replicator primary: {e.Message}");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "exporting the protected disk over NBD on {EndPoint}, replicating to {Peer}")]
        public static partial void Serving(ILogger logger, string endPoint, string peer);

        [LoggerMessage(2, LogLevel.Critical, "primary stopped: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);

        [LoggerMessage(3, LogLevel.Information, "stopped cleanly after a last checkpoint: the pair can start again from it")]
        public static partial void StoppedCleanly(ILogger logger);

        [LoggerMessage(4, LogLevel.Warning, "stopped without a last checkpoint ({Reason}): the secondary's image must be copied afresh before the pair runs again")]
        public static partial void NotClean(ILogger logger, string reason);
    }
}
