using System.Buffers;
using Replicator.Core.Epochs;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Turns a <see cref="FrameType.Mirror"/> frame into a <see cref="MirrorRecord"/> whose payload
/// lives in a buffer rented from a pool; the returned owner gives it back.
/// </summary>
public static class MirrorDecoder
{
    public static MirrorRecord Decode(in Frame frame, MemoryPool<byte> pool, out IMemoryOwner<byte>? payloadOwner)
    {
        ArgumentNullException.ThrowIfNull(pool);
        payloadOwner = null;
        if (frame.Type != FrameType.Mirror)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: expected Mirror, got {frame.Type}");
        }

        if (frame.Body.Length < MirrorHeader.Size)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: mirror body of {frame.Body.Length} bytes is shorter than its {MirrorHeader.Size}-byte header");
        }

        Span<byte> header = stackalloc byte[MirrorHeader.Size];
        frame.Body.Slice(0, MirrorHeader.Size).CopyTo(header);
        string? bad = MirrorHeader.TryRead(header, out long epoch, out long sequence, out var request);
        long payloadLength = frame.Body.Length - MirrorHeader.Size;
        if (bad is null && payloadLength != request.PayloadLength)
        {
            bad = $"carries {payloadLength} payload bytes, a {request.Op} of {request.Length} bytes needs {request.PayloadLength}";
        }

        if (bad is not null)
        {
            throw new ProtocolViolationException($"frame {frame.Header.LinkSequence}: mirror record {sequence}: {bad}");
        }

        ReadOnlyMemory<byte> payload = default;
        if (payloadLength > 0)
        {
            payloadOwner = pool.Rent((int)payloadLength);
            Memory<byte> target = payloadOwner.Memory[..(int)payloadLength];
            frame.Body.Slice(MirrorHeader.Size).CopyTo(target.Span);
            payload = target;
        }

        return new MirrorRecord(epoch, sequence, request, payload);
    }
}
