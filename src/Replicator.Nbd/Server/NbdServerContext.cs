using Microsoft.Extensions.Logging;
using Replicator.Core.Diagnostics;
using Replicator.Nbd.Logging;

namespace Replicator.Nbd.Server;

/// <summary>What every connection of one server shares: the export, the limits, the clock, the log.</summary>
internal sealed class NbdServerContext
{
    public NbdServerContext(INbdBackend backend, NbdExport export, NbdServerOptions options, ILogger logger, TimeProvider time, NbdRefusals refusals)
    {
        Backend = backend;
        Export = export;
        Options = options;
        Logger = logger;
        Time = time;
        NegotiationTimeouts = new LogRateLimit(time, LogRateLimit.Interval);
        Refusals = refusals;
        var pauses = new LogRateLimit(time, LogRateLimit.Interval);
        InFlight = new ServerInFlightBudget(options.MaxTotalInFlightBytes, () =>
        {
            if (pauses.ShouldReport(out int heldBack))
            {
                logger.ReadingPaused(InFlight!.Bytes, options.MaxTotalInFlightBytes, heldBack);
            }
        });
    }

    public INbdBackend Backend { get; }

    /// <summary>Refused connections, counted for the metrics.</summary>
    public NbdRefusals Refusals { get; }

    public NbdExport Export { get; }

    public NbdServerOptions Options { get; }

    public ILogger Logger { get; }

    public TimeProvider Time { get; }

    /// <summary>Bytes of requests read but not yet answered, across the server's connections.</summary>
    public ServerInFlightBudget InFlight { get; }

    /// <summary>Handshakes closed for taking too long are logged at most once per interval.</summary>
    public LogRateLimit NegotiationTimeouts { get; }
}
