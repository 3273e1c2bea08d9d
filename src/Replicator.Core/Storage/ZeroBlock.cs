namespace Replicator.Core.Storage;

/// <summary>
/// One block of zeroes shared by every zero write (write-zeroes, trims): zeroes are cut from it, never
/// allocated per request.
/// </summary>
public static class ZeroBlock
{
    /// <summary>256 KiB: a few of them make a large vectored write, and one costs little to keep.</summary>
    public const int Bytes = 256 << 10;

    /// <summary>The zeroes; nothing may write into them.</summary>
    public static ReadOnlyMemory<byte> Memory { get; } = new byte[Bytes];
}
