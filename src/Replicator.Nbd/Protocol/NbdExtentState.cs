using System.Diagnostics.CodeAnalysis;

namespace Replicator.Nbd.Protocol;

/// <summary>The flags of one extent in the <c>base:allocation</c> metadata context.</summary>
[Flags]
[SuppressMessage("Naming", "CA1711", Justification = "Named as the NBD protocol names these fields.")]
public enum NbdExtentState : uint
{
    /// <summary>Allocated (or the backend cannot tell): writing there does not need new space.</summary>
    Data = 0,

    /// <summary>NBD_STATE_HOLE: not allocated in the backing storage.</summary>
    Hole = 1 << 0,

    /// <summary>NBD_STATE_ZERO: reads as zeroes.</summary>
    Zero = 1 << 1,
}
