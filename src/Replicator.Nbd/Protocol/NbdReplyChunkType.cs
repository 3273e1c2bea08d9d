namespace Replicator.Nbd.Protocol;

/// <summary>Chunk types of a structured reply; error chunks have bit 15 set.</summary>
public enum NbdReplyChunkType : ushort
{
    None = 0,

    /// <summary>Read data: the offset it starts at, then the bytes.</summary>
    OffsetData = 1,

    /// <summary>A stretch of a read that reads as zeroes: its offset and length, no bytes.</summary>
    OffsetHole = 2,

    /// <summary>The extents of one metadata context: its id, then (length, flags) pairs.</summary>
    BlockStatus = 5,

    /// <summary>The request failed: the error, then a message for a human.</summary>
    Error = 0x8001,
}
