namespace Replicator.Core.Primary;

/// <summary>Why a resync from the dirty-region map cannot start; the host decides what follows from the kind.</summary>
public enum ResyncRefusalKind
{
    /// <summary>The engine does not know every region written since the secondary's checkpoint: only a whole-image copy helps.</summary>
    ChangesUnknown,

    /// <summary>The secondary holds a checkpoint this engine never sent: its epochs are not this engine's to compare.</summary>
    ForeignCheckpoint,

    /// <summary>The secondary holds less than it acknowledged: its storage lost committed checkpoints and cannot be trusted.</summary>
    LostCommitted,

    /// <summary>The secondary offers too little buffer to take even two of the largest records.</summary>
    BufferTooSmall,
}

/// <summary>A refused resync: its kind and what an operator reads.</summary>
public readonly record struct ResyncRefusal(ResyncRefusalKind Kind, string Reason)
{
    /// <summary>Whether copying the whole image would do instead: the secondary's epochs are merely unknown, not lying.</summary>
    public bool WholeImageWouldDo => Kind is ResyncRefusalKind.ChangesUnknown or ResyncRefusalKind.ForeignCheckpoint;
}
