using System.Diagnostics.CodeAnalysis;

namespace Replicator.Nbd.Protocol;

/// <summary>What the export supports, sent once at the end of the handshake.</summary>
[Flags]
[SuppressMessage("Naming", "CA1711", Justification = "Named as the NBD protocol names these fields.")]
public enum NbdTransmissionFlags : ushort
{
    None = 0,
    HasFlags = 1 << 0,
    ReadOnly = 1 << 1,
    SendFlush = 1 << 2,
    SendFua = 1 << 3,
    Rotational = 1 << 4,
    SendTrim = 1 << 5,
    SendWriteZeroes = 1 << 6,
    SendDontFragment = 1 << 7,
    CanMultiConnection = 1 << 8,
    SendResize = 1 << 9,
    SendCache = 1 << 10,
    SendFastZero = 1 << 11,
}
