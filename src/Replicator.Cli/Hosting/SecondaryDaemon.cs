using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Replicator.Nbd;
using Replicator.Runtime.Control;
using Replicator.Runtime.Secondary;
using Replicator.Runtime.Storage;

namespace Replicator.Cli.Hosting;

/// <summary>
/// <c>replicator secondary</c>: runs the secondary node and its control socket; after promotion
/// (operator or heartbeat timeout) serves the image over NBD if <c>--nbd</c> was given.
/// </summary>
internal sealed partial class SecondaryDaemon(SecondaryNodeOptions options, NbdServerOptions? nbd, ILoggerFactory loggers, IHostApplicationLifetime lifetime) : BackgroundService
{
    private readonly ILogger _log = loggers.CreateLogger("replicator.secondary");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SecondaryNode node = new(options, loggers.CreateLogger<SecondaryNode>(), TimeProvider.System);
        NbdServer? server = null;
        ImageFile? image = null;
        try
        {
            await node.StartAsync(stoppingToken).ConfigureAwait(false);
            AccessLog.Report(_log, options.LinkKey);
            await using ControlServer control = ControlServer.Start(options.StateDirectory, (command, cancel) => command switch
            {
                "status" => Task.FromResult<JsonNode?>(JsonSerializer.SerializeToNode(new { role = node.Promotion.IsCompletedSuccessfully ? "promoted" : "secondary", status = node.Status, nbd = server?.LocalEndPoint.ToString() })),
                "failover" => PromoteAsync(node, cancel),
                _ => throw new InvalidOperationException($"a secondary does not know '{command}' (status, failover)"),
            });
            AccessLog.Control(_log, control.SocketPath);

            if (await Task.WhenAny(node.Promotion, node.Fatal).WaitAsync(stoppingToken).ConfigureAwait(false) == node.Fatal)
            {
                throw new InvalidOperationException(await node.Fatal.ConfigureAwait(false));
            }

            long epoch = await node.Promotion.ConfigureAwait(false);
            if (nbd is not null)
            {
                image = ImageFile.Open(options.ImagePath, maxRequestBytes: options.MaxRequestBytes);
                server = new NbdServer(image, nbd, loggers.CreateLogger<NbdServer>());
                server.Start();
                Log.Serving(_log, epoch, server.LocalEndPoint.ToString());
            }

            await Task.Delay(Timeout.Infinite, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or InvalidDataException or UnauthorizedAccessException or System.Net.Sockets.SocketException)
        {
            Log.Failed(_log, e.Message);
            Console.Error.WriteLine($"replicator secondary: {e.Message}");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync().ConfigureAwait(false);
            }

            image?.Dispose();
            if (!node.Fatal.IsCompleted)
            {
                // Within the host's stop bound (10 s), with room to spare for the rest of the stop.
                bool drained = await node.StopCleanlyAsync(TimeSpan.FromSeconds(6)).ConfigureAwait(false);
                Log.Stopped(_log, node.Status.LastAppliedEpoch, drained ? "nothing committed is left only in the journal" : "committed epochs still wait in the journal; the next start applies them");
            }

            await node.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task<JsonNode?> PromoteAsync(SecondaryNode node, CancellationToken cancellation)
    {
        long epoch = await node.PromoteAsync().WaitAsync(cancellation).ConfigureAwait(false);
        return JsonSerializer.SerializeToNode(new { promoted = true, epoch });
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "promoted at checkpoint {Epoch}; serving the image over NBD on {EndPoint}")]
        public static partial void Serving(ILogger logger, long epoch, string endPoint);

        [LoggerMessage(2, LogLevel.Critical, "secondary stopped: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);

        [LoggerMessage(3, LogLevel.Information, "secondary stopped cleanly: the image holds checkpoint {Epoch}; {Journal}")]
        public static partial void Stopped(ILogger logger, long epoch, string journal);
    }
}
