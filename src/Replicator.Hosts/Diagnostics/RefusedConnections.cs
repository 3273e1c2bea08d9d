using System.Diagnostics.Metrics;

namespace Replicator.Hosts.Diagnostics;

/// <summary><c>replicator.connections.refused</c>, tagged with the stage the connection was refused at: the secondary's and the witness's alike.</summary>
internal sealed class RefusedConnections(Meter meter)
{
    private readonly Counter<long> _refused = meter.CreateCounter<long>("replicator.connections.refused", "{connection}", "Connections refused (tag stage: transport before the pair key, handshake after it)");

    public void Add(RefusalStage stage) =>
        _refused.Add(1, new KeyValuePair<string, object?>("stage", stage == RefusalStage.Transport ? "transport" : "handshake"));
}
