using MessagePack;

namespace Replicator.Protocol.Messages;

/// <summary>
/// The secondary's side of one epoch's commit, measured on its own clock (durations only, so the
/// two hosts' clocks never need to agree). Zero means "not measured".
/// </summary>
[MessagePackObject]
public sealed partial class AckTimings
{
    /// <summary>Checkpoint frame received → its journal write starts: the epoch's last records and the checkpoint handled, the epoch sealed, the journal worker free.</summary>
    [Key(0)]
    public long QueueMicroseconds { get; set; }

    /// <summary>Writing the journal entry (header, checkpoint, records) into the file.</summary>
    [Key(1)]
    public long JournalWriteMicroseconds { get; set; }

    /// <summary>The journal's fdatasync: the commit point.</summary>
    [Key(2)]
    public long JournalFlushMicroseconds { get; set; }

    /// <summary>Journal durable → this acknowledgement handed to the link.</summary>
    [Key(3)]
    public long AckMicroseconds { get; set; }

    /// <summary>The most bytes the secondary's buffer held since the previous acknowledgement.</summary>
    [Key(4)]
    public long BufferPeakBytes { get; set; }

    /// <summary>The last epoch applied to the image (after its acknowledgement, off the commit path), or 0.</summary>
    [Key(5)]
    public long AppliedEpoch { get; set; }

    /// <summary>How long applying <see cref="AppliedEpoch"/> took: its image writes, image flush, RAM pages and state record.</summary>
    [Key(6)]
    public long ApplyMicroseconds { get; set; }
}
