using System.Buffers.Binary;

namespace Replicator.Nbd.Protocol;

/// <summary>
/// The structured reply chunk header: magic, flags, type, handle, payload length. A client that
/// negotiated NBD_OPT_STRUCTURED_REPLY gets every read (and every block status) as chunks.
/// </summary>
internal static class NbdStructuredReply
{
    public const int HeaderSize = 20;

    /// <summary>NBD_REPLY_FLAG_DONE: the last chunk of the reply.</summary>
    public const ushort FlagDone = 1;

    /// <summary>An OFFSET_DATA chunk's header and its offset: what precedes the read bytes.</summary>
    public const int DataChunkPrefix = HeaderSize + 8;

    /// <summary>An OFFSET_HOLE chunk, whole: header, offset, hole length.</summary>
    public const int HoleChunkSize = HeaderSize + 12;

    public static void WriteHeader(Span<byte> destination, bool done, NbdReplyChunkType type, ulong handle, int payloadLength)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.StructuredReply);
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], done ? FlagDone : (ushort)0);
        BinaryPrimitives.WriteUInt16BigEndian(destination[6..], (ushort)type);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], handle);
        BinaryPrimitives.WriteUInt32BigEndian(destination[16..], (uint)payloadLength);
    }
}
