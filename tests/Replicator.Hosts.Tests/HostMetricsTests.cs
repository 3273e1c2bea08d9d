using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Replicator.Hosts.Diagnostics;
using Replicator.Hosts.Links;
using Replicator.Hosts.Tests.Support;
using Replicator.Hosts.Tests.Witness;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Tests;

/// <summary>The hosts' instruments: what each one records, and when, against the host's own clock.</summary>
public sealed class HostMetricsTests
{
    [Fact]
    public void A_checkpoint_s_commit_pause_and_lag_are_measured_and_a_degradation_counted()
    {
        using var meter = new Meter(MeterNames.Primary);
        using var commit = new MetricCollector<double>(meter, "replicator.checkpoint.commit.duration");
        using var pause = new MetricCollector<double>(meter, "replicator.checkpoint.pause.duration");
        using var acknowledged = new MetricCollector<long>(meter, "replicator.checkpoints.acknowledged");
        using var lag = new MetricCollector<double>(meter, "replicator.lag.duration");
        using var epoch = new MetricCollector<long>(meter, "replicator.epoch.acknowledged");
        using var degraded = new MetricCollector<long>(meter, "replicator.replication.degradations");
        var h = new PrimaryHarness(o => o with { Meter = meter });
        LinkId link = h.StartConnected();
        h.Host.RequestCheckpoint(5);
        h.Time.Advance(TimeSpan.FromMilliseconds(3));
        h.Pump(LinkId.None);
        h.Time.Advance(TimeSpan.FromMilliseconds(7));

        lag.RecordObservableInstruments();
        Assert.Equal(0.010, lag.LastMeasurement!.Value, 6);
        Assert.Empty(commit.GetMeasurementSnapshot());

        h.Host.OnFrame(link, PrimaryHarness.Ack(1));
        Assert.Equal(0.010, Assert.Single(commit.GetMeasurementSnapshot()).Value, 6);
        Assert.Equal(0.003, Assert.Single(pause.GetMeasurementSnapshot()).Value, 6);
        Assert.Equal(1, Assert.Single(acknowledged.GetMeasurementSnapshot()).Value);
        lag.RecordObservableInstruments();
        epoch.RecordObservableInstruments();
        Assert.Equal(0, lag.LastMeasurement!.Value);
        Assert.Equal(1, epoch.LastMeasurement!.Value);

        Assert.Empty(degraded.GetMeasurementSnapshot());
        h.Host.OnLinkClosed(link, "cable pulled");
        Assert.Equal(1, Assert.Single(degraded.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public void A_refused_primary_and_an_operator_s_promotion_are_counted_with_their_tags()
    {
        using var meter = new Meter(MeterNames.Secondary);
        using var refused = new MetricCollector<long>(meter, "replicator.connections.refused");
        using var failovers = new MetricCollector<long>(meter, "replicator.failovers");
        using var capacity = new MetricCollector<long>(meter, "replicator.buffer.capacity");
        var pair = new SecondaryHarness(configure: o => o with { Meter = meter });

        pair.Connect(SecondaryHarness.Identity(pairId: "pair-2"));
        CollectedMeasurement<long> refusal = Assert.Single(refused.GetMeasurementSnapshot());
        Assert.Equal("handshake", refusal.Tags["stage"]);

        pair.Host.Metrics!.ConnectionRefused(RefusalStage.Transport);
        Assert.Equal(["handshake", "transport"], refused.GetMeasurementSnapshot().Select(m => (string)m.Tags["stage"]!));

        Assert.Null(pair.Host.Promote("the operator asked"));
        CollectedMeasurement<long> failover = Assert.Single(failovers.GetMeasurementSnapshot());
        Assert.Equal("operator", failover.Tags["trigger"]);

        capacity.RecordObservableInstruments();
        Assert.Equal(pair.Options.BufferCapacityBytes, capacity.LastMeasurement!.Value);
    }

    [Fact]
    public void The_witness_counts_each_answer_by_kind_and_verdict()
    {
        using var meter = new Meter(MeterNames.Witness);
        using var answers = new MetricCollector<long>(meter, "replicator.witness.answers");
        using var pairs = new MetricCollector<int>(meter, "replicator.witness.pairs");
        var w = new WitnessHarness(meter: meter);
        w.PastStartHold();
        LinkId primary = w.Connect();

        w.Lease(primary, WitnessHarness.Created);
        w.Vote(w.Connect(), WitnessHarness.Created, WitnessHarness.Promotion(0x2222));

        Assert.Equal(
            [("lease", "granted"), ("vote", "refused")],
            answers.GetMeasurementSnapshot().Select(m => ((string)m.Tags["kind"]!, (string)m.Tags["verdict"]!)));
        pairs.RecordObservableInstruments();
        Assert.Equal(1, pairs.LastMeasurement!.Value);
    }
}
