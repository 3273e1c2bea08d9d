namespace Replicator.Protocol.Pages;

/// <summary>
/// Where a decoded checkpoint's pages go: arrays of up to <see cref="ChunkBytes"/> (16 pages of 4 KiB),
/// each page a slice of one, rather than an array per page — a checkpoint of thousands of pages is
/// then a sixteenth of the objects for the collector to trace and promote while its epoch waits.
/// </summary>
internal struct PageChunks
{
    /// <summary>
    /// Below the size the runtime puts on the large object heap, whose arrays are collected only with
    /// generation 2: one array for a checkpoint's every page made decoding three times slower for that.
    /// </summary>
    public const int ChunkBytes = 64 * 1024;

    private byte[] _chunk;
    private int _at;

    /// <summary>Whether a page of <paramref name="length"/> bytes still fits the current array (the next one need not be sized).</summary>
    public readonly bool Fits(int length) => _chunk is not null && length <= _chunk.Length - _at;

    /// <summary>Room for a page of <paramref name="length"/> bytes; <paramref name="bytesFromHere"/> is what this page and those after it take (so a last chunk is no larger than needed).</summary>
    public Memory<byte> Next(int length, long bytesFromHere)
    {
        _chunk ??= [];
        if (length > _chunk.Length - _at)
        {
            _chunk = GC.AllocateUninitializedArray<byte>((int)Math.Max(length, Math.Min(ChunkBytes, bytesFromHere)));
            _at = 0;
        }

        Memory<byte> page = _chunk.AsMemory(_at, length);
        _at += length;
        return page;
    }
}
