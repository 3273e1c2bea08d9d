using System.Buffers;
using System.IO.Hashing;

namespace Replicator.Protocol.Framing;

/// <summary>
/// CRC-32C over a frame: header bytes 0..11, then the body. One instance per connection side,
/// reset per frame, so checksumming allocates nothing.
/// </summary>
public sealed class FrameChecksum
{
    private readonly Crc32 _crc = new(Crc32ParameterSet.Crc32C);

    public uint Compute(ReadOnlySpan<byte> headerPrefix, ReadOnlySpan<byte> body, ReadOnlySpan<byte> moreBody = default)
    {
        _crc.Reset();
        _crc.Append(headerPrefix);
        _crc.Append(body);
        _crc.Append(moreBody);
        return _crc.GetCurrentHashAsUInt32();
    }

    public uint Compute(ReadOnlySpan<byte> headerPrefix, in ReadOnlySequence<byte> body)
    {
        _crc.Reset();
        _crc.Append(headerPrefix);
        foreach (ReadOnlyMemory<byte> segment in body)
        {
            _crc.Append(segment.Span);
        }

        return _crc.GetCurrentHashAsUInt32();
    }
}
