using System.Diagnostics.Metrics;

namespace Replicator.Nbd.Server;

/// <summary>
/// <c>replicator.nbd.connections.refused</c>, tagged with why: <c>limit</c> (closed at once over
/// <see cref="NbdServerOptions.MaxConnections"/>) or <c>handshake</c> (the client broke the
/// handshake, or did not finish it within <see cref="NbdServerOptions.NegotiationTimeout"/>).
/// Counts nothing without a meter.
/// </summary>
internal sealed class NbdRefusals(Meter? meter)
{
    private readonly Counter<long>? _refused = meter?.CreateCounter<long>(
        "replicator.nbd.connections.refused", "{connection}", "NBD connections refused (tag reason: limit over the connection limit, handshake for a broken or unfinished handshake)");

    public void OverLimit() => _refused?.Add(1, new KeyValuePair<string, object?>("reason", "limit"));

    public void Handshake() => _refused?.Add(1, new KeyValuePair<string, object?>("reason", "handshake"));
}
