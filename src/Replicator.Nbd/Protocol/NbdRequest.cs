using System.Buffers.Binary;

namespace Replicator.Nbd.Protocol;

/// <summary>One transmission-phase request header, as the client sent it (a write's payload follows it on the wire).</summary>
internal readonly record struct NbdRequest(NbdCommandFlags Flags, NbdCommand Command, ulong Handle, ulong Offset, uint Length)
{
    /// <summary>Bytes of the header on the wire: magic, flags, type, handle, offset, length.</summary>
    public const int Size = 28;

    /// <summary>
    /// Reads a header; false when the magic is wrong, which means the stream is out of step and
    /// nothing after it can be trusted.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> header, out NbdRequest request, out uint magic)
    {
        magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (magic != NbdMagic.Request)
        {
            request = default;
            return false;
        }

        request = new NbdRequest(
            (NbdCommandFlags)BinaryPrimitives.ReadUInt16BigEndian(header[4..]),
            (NbdCommand)BinaryPrimitives.ReadUInt16BigEndian(header[6..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[8..]),
            BinaryPrimitives.ReadUInt64BigEndian(header[16..]),
            BinaryPrimitives.ReadUInt32BigEndian(header[24..]));
        return true;
    }

    /// <summary>Writes the header as a client would send it.</summary>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.Request);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)Command);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], Handle);
        BinaryPrimitives.WriteUInt64BigEndian(destination[16..], Offset);
        BinaryPrimitives.WriteUInt32BigEndian(destination[24..], Length);
    }
}
