using System.Diagnostics.CodeAnalysis;

namespace Replicator.Nbd.Protocol;

/// <summary>The 16 bits the server sends after the magic numbers.</summary>
[Flags]
[SuppressMessage("Naming", "CA1711", Justification = "Named as the NBD protocol names these fields.")]
public enum NbdHandshakeFlags : ushort
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}
