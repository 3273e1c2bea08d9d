namespace Replicator.Nbd.Tests.Support;

/// <summary>One handshake reply as it came off the wire, and its fields.</summary>
internal sealed record OptionReply(uint Option, uint Type, byte[] Data, byte[] Raw);
