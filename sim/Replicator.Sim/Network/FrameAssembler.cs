using System.Buffers;
using Replicator.Protocol.Framing;

namespace Replicator.Sim.Network;

/// <summary>
/// The receiving end of one direction of a connection: bytes in, whole checked frames out, with the
/// daemons' own <see cref="FrameReader"/> for a stream and the same checks frame by frame for
/// datagrams. A bad frame throws <see cref="ProtocolViolationException"/>.
/// </summary>
internal sealed class FrameAssembler(LinkMode mode, int maxBodyLength)
{
    private readonly FrameReader _reader = new(maxBodyLength);
    private readonly FrameChecksum _checksum = new();
    private byte[] _buffer = new byte[4096];
    private int _filled;

    public void Receive(ReadOnlySpan<byte> bytes, Action<Frame> deliver)
    {
        if (mode == LinkMode.Datagram)
        {
            deliver(CheckDatagram(bytes.ToArray()));
            return;
        }

        if (_filled + bytes.Length > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _filled + bytes.Length));
        }

        bytes.CopyTo(_buffer.AsSpan(_filled));
        _filled += bytes.Length;
        var sequence = new ReadOnlySequence<byte>(_buffer, 0, _filled);
        int consumed = 0;
        while (_reader.TryRead(ref sequence, out Frame frame))
        {
            // The frame's body points into the buffer: copy it out before the buffer moves on.
            var copy = new Frame(frame.Header, new ReadOnlySequence<byte>(frame.Body.ToArray()));
            consumed = _filled - (int)sequence.Length;
            deliver(copy);
        }

        if (consumed > 0)
        {
            _buffer.AsSpan(consumed, _filled - consumed).CopyTo(_buffer);
            _filled -= consumed;
        }
    }

    /// <summary>A datagram holds one whole frame: the stream reader's checks except the order.</summary>
    private Frame CheckDatagram(byte[] bytes)
    {
        if (bytes.Length < FrameHeader.Size)
        {
            throw new ProtocolViolationException($"datagram of {bytes.Length} bytes is shorter than a frame header");
        }

        FrameHeader header = FrameHeader.Read(bytes, out ushort magic);
        if (magic != FrameHeader.Magic || !Enum.IsDefined(header.Type) || header.Flags != 0)
        {
            throw new ProtocolViolationException($"datagram frame {header.LinkSequence}: bad magic, type or flags");
        }

        if (header.BodyLength != bytes.Length - FrameHeader.Size || header.BodyLength > maxBodyLength)
        {
            throw new ProtocolViolationException($"datagram frame {header.LinkSequence}: says {header.BodyLength} body bytes, carries {bytes.Length - FrameHeader.Size}");
        }

        uint actual = _checksum.Compute(bytes.AsSpan(0, FrameHeader.ChecksummedPrefix), bytes.AsSpan(FrameHeader.Size));
        if (actual != header.Checksum)
        {
            throw new ProtocolViolationException($"datagram frame {header.LinkSequence} ({header.Type}): checksum mismatch: the frame was damaged");
        }

        return new Frame(header, new ReadOnlySequence<byte>(bytes, FrameHeader.Size, header.BodyLength));
    }
}
