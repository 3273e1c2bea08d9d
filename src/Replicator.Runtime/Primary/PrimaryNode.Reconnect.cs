using Replicator.Core.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Primary;

/// <summary>
/// Losing the secondary and getting it back: the link is retired whenever replication degrades, a
/// reconnect loop retries with exponential backoff on the injected clock, and a new link whose
/// secondary still follows this primary starts a resync. A secondary that was promoted (or moved to a
/// newer generation) fences this primary: it stays degraded and stops trying (I6).
/// </summary>
/// <remarks>
/// The event loop owns <see cref="_link"/>: it alone replaces it, sends on it (engine actions,
/// heartbeats) and decides to retire it. A link's receive loop owns its lifetime and disposes it
/// once the event loop has let it go.
/// </remarks>
public sealed partial class PrimaryNode
{
    private Task _reconnect = Task.CompletedTask;
    private bool _reconnecting;
    private int _reconnectAttempts;
    private string? _fenced;

    // Doubles with every attempt and goes back to the configured delay only once the pair is
    // protected again: a link that connects but keeps failing before the resync completes backs off too.
    private long _reconnectDelayTicks = -1;

    /// <summary>What the status shows about the link.</summary>
    private string LinkState
    {
        get
        {
            FrameConnection? link = _link;
            string? fenced = Volatile.Read(ref _fenced);
            int attempts = Volatile.Read(ref _reconnectAttempts);
            return link is { IsClosed: false } ? $"connected to {link.RemoteEndPoint}"
                : _options.Unreplicated ? "none (replication off)"
                : fenced is not null ? $"fenced, not reconnecting: {fenced}"
                : _options.ReconnectDelay == TimeSpan.Zero ? "secondary lost (reconnection off)"
                : $"secondary lost, reconnecting to {_options.Peer} (attempt {attempts})";
        }
    }

    /// <summary>
    /// On the event loop: the current link can no longer carry the stream (lost, timed out, or the
    /// engine degraded for another reason). It is closed, and a reconnect loop starts unless one
    /// runs, the node is fenced or stopping, or reconnection is off.
    /// </summary>
    private void RetireLink(string reason)
    {
        if (_link is { } link)
        {
            _link = null;
            _ = link.CloseAsync(reason);
        }

        if (_reconnecting || _fenced is not null || _stopping.IsCancellationRequested || _options.ReconnectDelay == TimeSpan.Zero || _options.Unreplicated)
        {
            return;
        }

        _reconnecting = true;
        _reconnect = ReconnectLoopAsync();
    }

    /// <summary>On the event loop: a link's receive loop ended (or a heartbeat timed out on it).</summary>
    private void OnLinkLost(FrameConnection link, string reason)
    {
        if (link != _link)
        {
            return; // a link already retired
        }

        _engine!.OnSecondaryLost(reason);
        RetireLink(reason);
    }

    /// <summary>On the event loop: heartbeats out, and a silent secondary is declared lost.</summary>
    private void OnHeartbeatDue()
    {
        if (_link is not { IsClosed: false } link)
        {
            return;
        }

        if (_time.GetElapsedTime(link.LastReceived) > _options.HeartbeatTimeout)
        {
            OnLinkLost(link, $"no frame from the secondary for {_options.HeartbeatTimeout.TotalMilliseconds} ms");
            return;
        }

        link.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = _engine!.CurrentEpoch });
    }

    /// <summary>
    /// On the event loop: a new link shook hands. The engine decides whether to resync over it; if it
    /// does, the link becomes current before the resync start goes out on it.
    /// </summary>
    private void OnReconnected(in PrimaryEvent e)
    {
        FrameConnection link = e.Link!;
        WelcomeMessage welcome = e.Welcome!;
        PrimaryEngine engine = _engine!;
        if (_stopping.IsCancellationRequested || engine.Replication != PrimaryReplication.Degraded || _link is not null)
        {
            e.Decision!.TrySetResult("the primary is stopping or no longer needs a new link");
            return;
        }

        _link = link;
        Log.Reconnected(_log, link.RemoteEndPoint, welcome.LastCommittedEpoch, welcome.BufferCapacityBytes);
        string? refusal = engine.BeginResync(welcome.LastCommittedEpoch, welcome.LastCommittedSequence, welcome.BufferCapacityBytes);
        if (refusal is not null)
        {
            _link = null;
            e.Decision!.TrySetResult(refusal);
            return;
        }

        _reconnecting = false;
        _receiveLoop = ReceiveLoopAsync(link);
        e.Decision!.TrySetResult(null);
        ReplicationChanged?.Invoke(PrimaryReplication.Resyncing, engine.DegradedReason);
    }

    /// <summary>The secondary will never follow this primary again: stay degraded, stop reconnecting.</summary>
    private void FenceOff(string reason)
    {
        if (Interlocked.CompareExchange(ref _fenced, reason, null) is null)
        {
            Log.Fenced(_log, reason);
            FencedOff?.Invoke(reason);
        }
    }

    /// <summary>On the event loop: the resync is acknowledged; the next loss starts a fresh backoff.</summary>
    private void OnProtectedAgain()
    {
        Volatile.Write(ref _reconnectAttempts, 0);
        Volatile.Write(ref _reconnectDelayTicks, _options.ReconnectDelay.Ticks);
    }

    private async Task ReconnectLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            long ticks = Volatile.Read(ref _reconnectDelayTicks);
            var delay = TimeSpan.FromTicks(ticks < 0 ? _options.ReconnectDelay.Ticks : ticks);
            Volatile.Write(ref _reconnectDelayTicks, Math.Min(delay.Ticks * 2, _options.ReconnectMaxDelay.Ticks));
            int attempt = Interlocked.Increment(ref _reconnectAttempts);
            Log.Reconnecting(_log, _options.Peer.ToString(), attempt, delay.TotalMilliseconds);
            FrameConnection? pending = null;
            try
            {
                await Task.Delay(delay, _time, _stopping.Token).ConfigureAwait(false);
                (pending, WelcomeMessage welcome) = await HandshakeAsync(_stopping.Token).ConfigureAwait(false);
                var decision = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
                Post(new PrimaryEvent(PrimaryEventKind.Reconnected, Link: pending, Welcome: welcome, Decision: decision));
                string? refusal = await decision.Task.WaitAsync(_stopping.Token).ConfigureAwait(false);
                if (refusal is null)
                {
                    return; // the link is the event loop's now
                }

                Log.ResyncRefused(_log, refusal);
                await pending.CloseAsync(refusal).ConfigureAwait(false);
                await pending.DisposeAsync().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Stopping: a link not handed over is this loop's to dispose (disposing twice is harmless).
                if (pending is not null && pending != _link)
                {
                    await pending.DisposeAsync().ConfigureAwait(false);
                }

                return;
            }
            catch (HandshakeRefusedException e) when (e.Fenced)
            {
                FenceOff(e.Message);
                return;
            }
            catch (Exception e) when (e is HandshakeRefusedException or System.Net.Sockets.SocketException or TimeoutException or IOException or ProtocolViolationException or ObjectDisposedException)
            {
                Log.ReconnectFailed(_log, attempt, e.Message);
            }
        }
    }
}
