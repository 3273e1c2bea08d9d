using System.Buffers.Binary;

namespace Replicator.Nbd.Protocol;

/// <summary>The simple reply header: magic, error, handle. A successful read's data follows it.</summary>
internal static class NbdSimpleReply
{
    public const int HeaderSize = 16;

    public static void WriteHeader(Span<byte> destination, NbdError error, ulong handle)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, NbdMagic.SimpleReply);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], (uint)error);
        BinaryPrimitives.WriteUInt64BigEndian(destination[8..], handle);
    }
}
