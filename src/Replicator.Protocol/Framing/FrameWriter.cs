using System.Buffers;
using MessagePack;
using Replicator.Protocol.Messages;
using Replicator.Core.Epochs;

namespace Replicator.Protocol.Framing;

/// <summary>
/// Writes frames for one direction of a connection: numbers them, checksums them (unless the
/// transport guards them, <see cref="FrameIntegrity.Transport"/>), and writes header and body into
/// the output's own memory (a pipe or a reused buffer), so a mirrored write costs one copy of its
/// payload and no allocation.
/// </summary>
public sealed class FrameWriter(FrameIntegrity integrity = FrameIntegrity.Checksum)
{
    private readonly FrameChecksum _checksum = new();
    private readonly ArrayBufferWriter<byte> _controlBody = new(256);
    private uint _nextSequence;

    public FrameIntegrity Integrity { get; } = integrity;

    /// <summary>Writes a control message (MessagePack body).</summary>
    public void WriteControl<T>(IBufferWriter<byte> output, FrameType type, T message)
    {
        ArgumentNullException.ThrowIfNull(output);
        _controlBody.ResetWrittenCount();
        MessagePackSerializer.Serialize(_controlBody, message, ControlCodec.Options);
        WriteFrame(output, type, _controlBody.WrittenSpan, default);
    }

    /// <summary>Writes one mirrored request: the fixed mirror header, then the payload as raw bytes.</summary>
    public void WriteMirror(IBufferWriter<byte> output, in MirrorRecord record)
    {
        ArgumentNullException.ThrowIfNull(output);
        Span<byte> mirrorHeader = stackalloc byte[MirrorHeader.Size];
        MirrorHeader.Write(record, mirrorHeader);
        WriteFrame(output, FrameType.Mirror, mirrorHeader, record.Payload.Span);
    }

    private void WriteFrame(IBufferWriter<byte> output, FrameType type, ReadOnlySpan<byte> bodyStart, ReadOnlySpan<byte> bodyRest)
    {
        int bodyLength = bodyStart.Length + bodyRest.Length;
        Span<byte> header = stackalloc byte[FrameHeader.Size];
        if (Integrity == FrameIntegrity.Transport)
        {
            new FrameHeader(type, FrameHeader.TransportIntegrityFlag, bodyLength, _nextSequence, 0).Write(header);
        }
        else
        {
            new FrameHeader(type, 0, bodyLength, _nextSequence, 0).Write(header);
            uint checksum = _checksum.Compute(header[..FrameHeader.ChecksummedPrefix], bodyStart, bodyRest);
            new FrameHeader(type, 0, bodyLength, _nextSequence, checksum).Write(header);
        }

        _nextSequence++;

        Span<byte> target = output.GetSpan(FrameHeader.Size + bodyLength);
        header.CopyTo(target);
        bodyStart.CopyTo(target[FrameHeader.Size..]);
        bodyRest.CopyTo(target[(FrameHeader.Size + bodyStart.Length)..]);
        output.Advance(FrameHeader.Size + bodyLength);
    }
}
