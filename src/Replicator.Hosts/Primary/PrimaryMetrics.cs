using System.Diagnostics.Metrics;
using Replicator.Hosts.Diagnostics;

namespace Replicator.Hosts.Primary;

/// <summary>
/// The primary's instruments on the shell's meter (<see cref="PrimaryHostOptions.Meter"/>): each
/// acknowledged checkpoint's commit latency, pause and phases, recorded on the host's loop once per
/// checkpoint (never per write); the rest are gauges read from the host's state when an exporter
/// collects, a racy but harmless view like the status's.
/// </summary>
internal sealed class PrimaryMetrics
{
    private readonly Histogram<double> _commit;
    private readonly Histogram<double> _pause;
    private readonly Histogram<double> _phase;
    private readonly Counter<long> _checkpoints;
    private readonly Counter<long> _degraded;

    public PrimaryMetrics(Meter meter, PrimaryHost host)
    {
        _commit = meter.CreateHistogram<double>("replicator.checkpoint.commit.duration", "s", "Epoch-commit latency: checkpoint start to the secondary's acknowledgement", tags: null, advice: MeterNames.DurationBuckets);
        _pause = meter.CreateHistogram<double>("replicator.checkpoint.pause.duration", "s", "How long the guest was paused for a checkpoint (drain and capture)", tags: null, advice: MeterNames.DurationBuckets);
        _phase = meter.CreateHistogram<double>("replicator.checkpoint.phase.duration", "s", "One phase of an epoch commit (tag phase: drain, capture, link, secondary_queue, journal_write, journal_flush, ack)", tags: null, advice: MeterNames.DurationBuckets);
        _checkpoints = meter.CreateCounter<long>("replicator.checkpoints.acknowledged", "{checkpoint}", "Checkpoints the secondary acknowledged");
        _degraded = meter.CreateCounter<long>("replicator.replication.degradations", "{degradation}", "Times replication degraded (the secondary lost or refused)");
        meter.CreateObservableGauge("replicator.epoch.current", () => host.Engine?.CurrentEpoch ?? 0, "{epoch}", "The epoch the guest's writes go into");
        meter.CreateObservableGauge("replicator.epoch.acknowledged", () => host.Engine?.LastAcknowledgedEpoch ?? 0, "{epoch}", "The last checkpoint the secondary acknowledged");
        meter.CreateObservableGauge("replicator.lag.checkpoints", () => host.Engine?.UnacknowledgedCheckpoints ?? 0, "{checkpoint}", "Checkpoints sent and not yet acknowledged");
        meter.CreateObservableGauge("replicator.lag.duration", () => host.OldestUnacknowledgedAge.TotalSeconds, "s", "Age of the oldest checkpoint not yet acknowledged (0 when none waits)");
        meter.CreateObservableGauge("replicator.credit.available", () => host.Engine?.CreditAvailable ?? 0, "By", "Bytes the primary may still send before the secondary commits");
        meter.CreateObservableCounter("replicator.checkpoint.pages.captured", () => host.PageTraffic.CapturedBytes, "By", "RAM page bytes of the checkpoints sent, as captured");
        meter.CreateObservableCounter("replicator.checkpoint.pages.sent", () => host.PageTraffic.SentBytes, "By", "What those pages took on the link, encoded as the link agreed (--page-encoding)");
        meter.CreateObservableGauge("replicator.sync.remaining", () => host.SyncBytesLeft, "By", "Bytes the running resync or full sync has still to copy");
        meter.CreateObservableGauge("replicator.guest.answers_held", () => host.HeldAnswers, "{request}", "Guest answers held without a majority (with a witness)");
        meter.CreateObservableGauge("replicator.pair.protected", () => host.LastProtection.State == PairProtection.Protected ? 1 : 0, "{state}", "1 while the pair is protected, else 0");
    }

    public void CheckpointAcknowledged(in CheckpointTiming timing)
    {
        _checkpoints.Add(1);
        _commit.Record(timing.Commit.TotalSeconds);
        _pause.Record(timing.Pause.TotalSeconds);
        if (timing.Drain > TimeSpan.Zero || timing.Capture > TimeSpan.Zero)
        {
            Phase("drain", timing.Drain.TotalSeconds);
            Phase("capture", timing.Capture.TotalSeconds);
            Phase("link", timing.Link.TotalSeconds);
        }

        if (timing.Secondary is { } secondary)
        {
            Phase("secondary_queue", secondary.QueueMicroseconds / 1e6);
            Phase("journal_write", secondary.JournalWriteMicroseconds / 1e6);
            Phase("journal_flush", secondary.JournalFlushMicroseconds / 1e6);
            Phase("ack", secondary.AckMicroseconds / 1e6);
        }
    }

    public void Degraded() => _degraded.Add(1);

    private void Phase(string phase, double seconds) => _phase.Record(seconds, new KeyValuePair<string, object?>("phase", phase));
}
