using System.Buffers;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Cuts frames out of one direction of a connection and rejects, with a clear reason, any frame
/// that is malformed, oversized, of an unknown type, out of order, or fails its checksum
/// (<see cref="ProtocolViolationException"/>). Nothing of a rejected frame is returned.
/// </summary>
public sealed class FrameReader
{
    private readonly FrameChecksum _checksum = new();
    private uint _expectedSequence;

    /// <param name="maxBodyLength">The largest body accepted: the largest request plus the mirror header, or the largest snapshot.</param>
    public FrameReader(int maxBodyLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBodyLength);
        MaxBodyLength = maxBodyLength;
    }

    public int MaxBodyLength { get; }

    /// <summary>
    /// Takes one whole frame off the front of <paramref name="buffer"/>; false when more bytes are
    /// needed. Throws <see cref="ProtocolViolationException"/> for a bad frame.
    /// </summary>
    public bool TryRead(ref ReadOnlySequence<byte> buffer, out Frame frame)
    {
        frame = default;
        if (buffer.Length < FrameHeader.Size)
        {
            return false;
        }

        Span<byte> headerBytes = stackalloc byte[FrameHeader.Size];
        buffer.Slice(0, FrameHeader.Size).CopyTo(headerBytes);
        FrameHeader header = FrameHeader.Read(headerBytes, out ushort magic);
        if (magic != FrameHeader.Magic)
        {
            throw new ProtocolViolationException($"frame {_expectedSequence}: bad magic 0x{magic:x4} (expected 0x{FrameHeader.Magic:x4}): not a replicator peer, or the stream is out of step");
        }

        if (!Enum.IsDefined(header.Type))
        {
            throw new ProtocolViolationException($"frame {_expectedSequence}: unknown frame type {(byte)header.Type}");
        }

        if (header.Flags != 0)
        {
            throw new ProtocolViolationException($"frame {_expectedSequence}: reserved flags 0x{header.Flags:x2} are set");
        }

        if (header.BodyLength < 0 || header.BodyLength > MaxBodyLength)
        {
            throw new ProtocolViolationException($"frame {_expectedSequence} ({header.Type}): body of {header.BodyLength} bytes is outside 0..{MaxBodyLength}");
        }

        if (buffer.Length < FrameHeader.Size + (long)header.BodyLength)
        {
            return false;
        }

        ReadOnlySequence<byte> body = buffer.Slice(FrameHeader.Size, header.BodyLength);
        uint actual = _checksum.Compute(headerBytes[..FrameHeader.ChecksummedPrefix], body);
        if (actual != header.Checksum)
        {
            throw new ProtocolViolationException($"frame {header.LinkSequence} ({header.Type}, {header.BodyLength} bytes): checksum 0x{actual:x8} does not match 0x{header.Checksum:x8}: the frame was damaged");
        }

        if (header.LinkSequence != _expectedSequence)
        {
            throw new ProtocolViolationException($"frame {header.LinkSequence} ({header.Type}) arrived where frame {_expectedSequence} was due: a frame was lost, repeated or reordered");
        }

        _expectedSequence++;
        frame = new Frame(header, body);
        buffer = buffer.Slice(FrameHeader.Size + header.BodyLength);
        return true;
    }
}
