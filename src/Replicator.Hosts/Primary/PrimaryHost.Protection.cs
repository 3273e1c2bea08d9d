using System.Globalization;
using Replicator.Core.Primary;

namespace Replicator.Hosts.Primary;

/// <summary>
/// Whether the guest is protected, as a bound on time rather than a flag: Protected means no
/// checkpoint has waited for its acknowledgement longer than <see cref="PrimaryHostOptions.AckTimeout"/>.
/// A connected secondary that stopped committing, or a credit window that stays full, shows as
/// such, with the reason, in the status and (once per change) in the log.
/// </summary>
public sealed partial class PrimaryHost
{
    private PairProtection _reportedProtection = PairProtection.Starting;
    private ProtectionReport _lastProtection = new(PairProtection.Starting, null);

    /// <summary>
    /// The protection as of the last heartbeat tick, for other threads (the control socket's status):
    /// one reference, replaced whole on the host's loop.
    /// </summary>
    public ProtectionReport LastProtection => Volatile.Read(ref _lastProtection);

    /// <summary>The pair's protection now, and why when it is not <see cref="PairProtection.Protected"/>. On the host's loop only.</summary>
    public (PairProtection State, string? Reason) Protection
    {
        get
        {
            if (_options.Unreplicated)
            {
                return (PairProtection.Unreplicated, _options.RunsPromotedNode ? "replication is off (promoted with no --peer)" : "replication is off (--no-replication)");
            }

            if (_engine is not { } engine)
            {
                return (PairProtection.Starting, null);
            }

            switch (engine.Replication)
            {
                case PrimaryReplication.Degraded:
                    return (PairProtection.Degraded, engine.DegradedReason);
                case PrimaryReplication.Resyncing:
                    return (PairProtection.Resyncing, string.Create(CultureInfo.InvariantCulture, $"{engine.ResyncBytesLeft} bytes left to copy to the secondary"));
            }

            if (_checkpointStarts.TryPeek(out var oldest) && _time.GetElapsedTime(oldest.Start) is var waited && waited > _options.AckTimeout)
            {
                return (PairProtection.Stalled, string.Create(
                    CultureInfo.InvariantCulture,
                    $"checkpoint {oldest.Epoch} has waited {waited.TotalMilliseconds:F0} ms for the secondary's acknowledgement (bound {_options.AckTimeout.TotalMilliseconds:F0} ms); {engine.UnacknowledgedCheckpoints} unacknowledged; last acknowledged {engine.LastAcknowledgedEpoch}"));
            }

            if (engine.CreditAvailable <= 0 && engine.QueuedCount > 0)
            {
                return (PairProtection.CreditExhausted, string.Create(
                    CultureInfo.InvariantCulture,
                    $"{engine.QueuedCount} guest writes wait for credit: the secondary's buffer is full"));
            }

            return (PairProtection.Protected, null);
        }
    }

    /// <summary>On each heartbeat tick: a change of protection is logged once, with its reason.</summary>
    private void ReportProtectionChange()
    {
        (PairProtection state, string? reason) = Protection;
        Volatile.Write(ref _lastProtection, new ProtectionReport(state, reason));
        if (state == _reportedProtection)
        {
            return;
        }

        PairProtection before = _reportedProtection;
        _reportedProtection = state;
        if (state is PairProtection.Stalled or PairProtection.CreditExhausted)
        {
            Log.ProtectionLost(_log, state, reason ?? string.Empty);
        }
        else if (state == PairProtection.Protected && before is PairProtection.Stalled or PairProtection.CreditExhausted)
        {
            Log.ProtectionRestored(_log, before);
        }
    }
}
