using System.Diagnostics.Metrics;
using Replicator.Hosts.Diagnostics;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// The secondary's instruments on the shell's meter (<see cref="SecondaryHostOptions.Meter"/>):
/// promotions and refused connections counted as they happen; the buffer, the committed and
/// applied epochs read from the host's state when an exporter collects (a racy but harmless view,
/// like the status's).
/// </summary>
public sealed class SecondaryMetrics
{
    private readonly Counter<long> _failovers;
    private readonly RefusedConnections _refused;

    internal SecondaryMetrics(Meter meter, SecondaryHost host)
    {
        _failovers = meter.CreateCounter<long>("replicator.failovers", "{promotion}", "Promotions of this node (tag trigger: operator, automatic, switchover, forced)");
        _refused = new RefusedConnections(meter);
        meter.CreateObservableGauge("replicator.buffer.used", () => host.Engine?.BufferedBytes ?? 0, "By", "Bytes of mirrored writes held by epoch, not yet committed");
        meter.CreateObservableGauge("replicator.buffer.capacity", () => host.BufferCapacityBytes, "By", "The credit window: the most the buffer holds");
        meter.CreateObservableGauge("replicator.epoch.committed", () => host.Engine?.LastCommittedEpoch ?? 0, "{epoch}", "The last epoch committed (durable in the journal)");
        meter.CreateObservableGauge("replicator.epoch.applied", () => host.Engine?.LastAppliedEpoch ?? 0, "{epoch}", "The last epoch written back to the image");
        meter.CreateObservableGauge("replicator.apply.backlog", () => host.Engine is { } engine ? engine.LastCommittedEpoch - engine.LastAppliedEpoch : 0, "{epoch}", "Committed epochs not yet written back to the image");
        meter.CreateObservableGauge("replicator.promoted", () => host.IsPromoted ? 1 : 0, "{state}", "1 once this node was promoted, else 0");
    }

    internal void Promoted(PromotionTrigger trigger)
    {
        if (trigger != PromotionTrigger.Restart)
        {
            _failovers.Add(1, new KeyValuePair<string, object?>("trigger", Tag(trigger)));
        }
    }

    /// <summary>A connection refused, by the host's handshake or by the shell before the key was proven.</summary>
    public void ConnectionRefused(RefusalStage stage) => _refused.Add(stage);

    private static string Tag(PromotionTrigger trigger) => trigger switch
    {
        PromotionTrigger.Operator => "operator",
        PromotionTrigger.Automatic => "automatic",
        PromotionTrigger.Switchover => "switchover",
        PromotionTrigger.Forced => "forced",
        _ => "restart",
    };
}
