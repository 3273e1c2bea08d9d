namespace Replicator.Hosts.Storage;

/// <summary>
/// The shape of a primary's dirty log: the image it tracks, the granularity of its bitmap (one bit
/// per region, what a resync copies at least) and of its activity log (extents of whole regions,
/// kept "hot" while they are written). A log of another shape says nothing about this image.
/// </summary>
public readonly record struct DirtyLogGeometry(long DiskBytes, int RegionBytes, int ExtentBytes)
{
    /// <summary>Bitmap bytes per 512-byte sector: the rest is the sector's own checksum.</summary>
    public const int BitmapBytesPerSector = DirtyLogFile.SectorBytes - sizeof(uint);

    public const int RegionsPerSector = BitmapBytesPerSector * 8;

    public long RegionCount => (DiskBytes + RegionBytes - 1) / RegionBytes;

    public int RegionsPerExtent => ExtentBytes / RegionBytes;

    public long ExtentCount => (DiskBytes + ExtentBytes - 1) / ExtentBytes;

    public int SectorCount => (int)((RegionCount + RegionsPerSector - 1) / RegionsPerSector);

    /// <summary>Why this shape cannot be tracked, or null.</summary>
    public string? Problem() =>
        DiskBytes <= 0 ? "the image is empty"
        : RegionBytes < 4096 || !IsPowerOfTwo(RegionBytes) ? $"the region size {RegionBytes} must be a power of two of 4 KiB or more"
        : ExtentBytes < RegionBytes || !IsPowerOfTwo(ExtentBytes) ? $"the extent size {ExtentBytes} must be a power of two no smaller than a region ({RegionBytes})"
        : ExtentCount > uint.MaxValue ? "the image has more extents than the log can name"
        : null;

    private static bool IsPowerOfTwo(long value) => value > 0 && (value & (value - 1)) == 0;
}
