using System.Diagnostics.CodeAnalysis;

namespace Replicator.Nbd.Protocol;

/// <summary>Per-request flags of the transmission phase.</summary>
[Flags]
[SuppressMessage("Naming", "CA1711", Justification = "Named as the NBD protocol names these fields.")]
public enum NbdCommandFlags : ushort
{
    None = 0,
    Fua = 1 << 0,
    NoHole = 1 << 1,
    DontFragment = 1 << 2,
    RequestOne = 1 << 3,
    FastZero = 1 << 4,
}
