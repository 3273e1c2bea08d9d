using System.Buffers;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Cuts frames out of one direction of a connection and rejects, with a clear reason, any frame
/// that is malformed, oversized, of an unknown type, out of order, or fails its checksum
/// (<see cref="ProtocolViolationException"/>). Nothing of a rejected frame is returned. A frame
/// without a checksum is taken only where the transport guards it (<see cref="FrameIntegrity.Transport"/>).
/// </summary>
public sealed class FrameReader
{
    private readonly FrameChecksum _checksum = new();
    private uint _expectedSequence;

    /// <param name="maxBodyLength">The largest body accepted: the largest request plus the mirror header, or the largest snapshot.</param>
    /// <param name="integrity">What guards the connection: only over TLS may a frame come without a checksum.</param>
    public FrameReader(int maxBodyLength, FrameIntegrity integrity = FrameIntegrity.Checksum)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBodyLength);
        MaxBodyLength = maxBodyLength;
        Integrity = integrity;
    }

    public int MaxBodyLength { get; }

    public FrameIntegrity Integrity { get; }

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

        if ((header.Flags & ~FrameHeader.TransportIntegrityFlag) != 0)
        {
            throw new ProtocolViolationException($"frame {_expectedSequence}: reserved flags 0x{header.Flags:x2} are set");
        }

        bool unchecksummed = header.Flags == FrameHeader.TransportIntegrityFlag;
        if (unchecksummed && (Integrity != FrameIntegrity.Transport || header.Checksum != 0))
        {
            throw new ProtocolViolationException(Integrity != FrameIntegrity.Transport
                ? $"frame {_expectedSequence}: it comes without a checksum, on a link whose transport does not guard it (no TLS)"
                : $"frame {_expectedSequence}: it says it has no checksum, yet carries 0x{header.Checksum:x8}");
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
        uint actual = unchecksummed ? 0 : _checksum.Compute(headerBytes[..FrameHeader.ChecksummedPrefix], body);
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
