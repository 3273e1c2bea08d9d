using System.Buffers;

namespace Replicator.Protocol.Framing;

/// <summary>A frame that passed every check of <see cref="FrameReader"/>. The body is valid until the reader's buffer advances.</summary>
public readonly record struct Frame(FrameHeader Header, ReadOnlySequence<byte> Body)
{
    public FrameType Type => Header.Type;
}
