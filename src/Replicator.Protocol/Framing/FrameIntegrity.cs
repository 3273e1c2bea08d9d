namespace Replicator.Protocol.Framing;

/// <summary>What guards a connection's frames against damage.</summary>
public enum FrameIntegrity
{
    /// <summary>Each frame's CRC-32C: a link without TLS (<c>--insecure-link</c>, the simulator).</summary>
    Checksum,

    /// <summary>
    /// The transport's own authentication: TLS 1.3 checks every record with its AEAD tag (a MAC,
    /// stronger than a CRC), so frames are sent unchecksummed (<see cref="FrameHeader.TransportIntegrityFlag"/>)
    /// and each payload is hashed once less on each side.
    /// </summary>
    Transport,
}
