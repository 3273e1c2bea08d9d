namespace Replicator.Protocol.Messages;

/// <summary>A handshake's outcome and, unless accepted, the reason an operator reads.</summary>
public readonly record struct HandshakeVerdict(HandshakeOutcome Outcome, string? Reason)
{
    public static HandshakeVerdict Accepted { get; } = new(HandshakeOutcome.Accepted, null);

    public bool IsAccepted => Outcome == HandshakeOutcome.Accepted;

    public static HandshakeVerdict Incompatible(string reason) => new(HandshakeOutcome.Incompatible, reason);

    public static HandshakeVerdict Fenced(string reason) => new(HandshakeOutcome.Fenced, reason);
}
