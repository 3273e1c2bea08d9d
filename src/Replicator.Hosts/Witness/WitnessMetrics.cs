using System.Diagnostics.Metrics;
using Replicator.Hosts.Diagnostics;
using Replicator.Protocol.Witness;

namespace Replicator.Hosts.Witness;

/// <summary>
/// The witness's instruments on the shell's meter (<see cref="WitnessHostOptions.Meter"/>): every
/// answer by kind and verdict, refused connections, and how many pairs it keeps records for.
/// </summary>
public sealed class WitnessMetrics
{
    private readonly Counter<long> _answers;
    private readonly RefusedConnections _refused;

    internal WitnessMetrics(Meter meter, WitnessHost host)
    {
        _answers = meter.CreateCounter<long>("replicator.witness.answers", "{answer}", "Answers to the nodes (tags kind: lease, vote, presence; verdict: granted, refused, superseded)");
        _refused = new RefusedConnections(meter);
        meter.CreateObservableGauge("replicator.witness.pairs", () => host.PairCount, "{pair}", "Pairs the witness keeps records for");
    }

    internal void Answered(WitnessRequestKind kind, WitnessVerdict verdict) => _answers.Add(
        1,
        new KeyValuePair<string, object?>("kind", kind switch { WitnessRequestKind.Lease => "lease", WitnessRequestKind.Vote => "vote", _ => "presence" }),
        new KeyValuePair<string, object?>("verdict", verdict switch { WitnessVerdict.Granted => "granted", WitnessVerdict.Refused => "refused", _ => "superseded" }));

    /// <summary>A connection refused, by the shell before the key was proven or by the host after.</summary>
    public void ConnectionRefused(RefusalStage stage) => _refused.Add(stage);
}
