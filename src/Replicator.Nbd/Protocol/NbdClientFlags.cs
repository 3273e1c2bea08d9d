using System.Diagnostics.CodeAnalysis;

namespace Replicator.Nbd.Protocol;

/// <summary>The 32 bits the client answers the greeting with; any other bit ends the connection.</summary>
[Flags]
[SuppressMessage("Naming", "CA1711", Justification = "Named as the NBD protocol names these fields.")]
public enum NbdClientFlags : uint
{
    None = 0,
    FixedNewstyle = 1 << 0,
    NoZeroes = 1 << 1,
}
