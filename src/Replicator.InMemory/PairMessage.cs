using Replicator.Core.Epochs;

namespace Replicator.InMemory;

/// <summary>What travels on the in-memory link, in order, in each direction.</summary>
public abstract record PairMessage
{
    private PairMessage()
    {
    }

    public sealed record Mirror(MirrorRecord Record) : PairMessage;

    public sealed record Checkpoint(CheckpointRecord Record) : PairMessage;

    public sealed record Ack(long Epoch) : PairMessage;

    public sealed record Credit(long Bytes) : PairMessage;

    public sealed record Rejected(long Epoch, string Reason) : PairMessage;
}
