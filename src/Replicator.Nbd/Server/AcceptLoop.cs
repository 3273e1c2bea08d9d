using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Replicator.Core.Diagnostics;
using Replicator.Nbd.Logging;

namespace Replicator.Nbd.Server;

/// <summary>
/// Accepts connections until the server stops, and only then ends: an accept that fails for want of
/// descriptors (EMFILE, ENFILE) or for any other reason is logged, waited out and tried again, so a
/// primary that ran short of descriptors serves NBD again as soon as some are free. The accept call
/// is a seam (<see cref="Func{T, TResult}"/>) so tests can make it fail as a listener would.
/// </summary>
internal sealed class AcceptLoop
{
    /// <summary>The wait after a failed accept: short enough to resume promptly, long enough not to spin on a failure that repeats.</summary>
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(100);

    private readonly Func<CancellationToken, ValueTask<Socket>> _accept;
    private readonly Action<Socket> _admit;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogRateLimit _failures;

    /// <param name="accept">Accepts one connection (the listener's AcceptAsync).</param>
    /// <param name="admit">Takes an accepted socket; must not throw.</param>
    /// <param name="time">The clock of the retry delay and of the log's rate limit.</param>
    /// <param name="logger">Where failures are logged, at most once per <see cref="LogRateLimit.Interval"/>.</param>
    public AcceptLoop(Func<CancellationToken, ValueTask<Socket>> accept, Action<Socket> admit, TimeProvider time, ILogger logger)
    {
        _accept = accept;
        _admit = admit;
        _time = time;
        _logger = logger;
        _failures = new LogRateLimit(time, LogRateLimit.Interval);
    }

    /// <summary>How the loop goes on after <paramref name="exception"/>; <paramref name="stopping"/> says whether the server is stopping.</summary>
    public static AcceptFailure Classify(Exception exception, bool stopping) => exception switch
    {
        _ when stopping => AcceptFailure.Stopped,
        SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.ConnectionAborted } => AcceptFailure.ClientGone,
        _ => AcceptFailure.BackOff,
    };

    /// <summary>Runs until <paramref name="stopping"/> is canceled; never throws.</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (true)
        {
            Socket client;
            try
            {
                client = await _accept(stopping).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // No accept failure may end the loop while the server runs: it is classified instead.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                switch (Classify(ex, stopping.IsCancellationRequested))
                {
                    case AcceptFailure.Stopped:
                        return;
                    case AcceptFailure.ClientGone:
                        continue;
                    case AcceptFailure.BackOff:
                    default:
                        if (!await BackOffAsync(ex, stopping).ConfigureAwait(false))
                        {
                            return;
                        }

                        continue;
                }
            }

            _admit(client);
        }
    }

    /// <summary>Logs (at most once per interval) and waits; false when the server stopped meanwhile.</summary>
    private async Task<bool> BackOffAsync(Exception failure, CancellationToken stopping)
    {
        if (_failures.ShouldReport(out int heldBack))
        {
            _logger.AcceptFailed(failure.Message, (int)RetryDelay.TotalMilliseconds, heldBack, failure);
        }

        try
        {
            await Task.Delay(RetryDelay, _time, stopping).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
