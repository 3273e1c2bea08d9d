namespace Replicator.Protocol.Framing;

/// <summary>
/// The largest frame body a side accepts: a mirror of the largest request, or a checkpoint carrying
/// all of RAM. Here, beside the frame reader, so every shell that cuts frames (the daemons, the
/// in-memory pair) sizes its reader the same way.
/// </summary>
public static class LinkLimits
{
    /// <summary>
    /// Room for the vCPU and device state a checkpoint carries beside the RAM pages: QEMU's for a
    /// small PC guest is ~0.4 MB (CPU, devices, and its non-shared ROM blocks), so a whole-RAM
    /// checkpoint of a QEMU guest is larger than its RAM by that much. A device state past this
    /// makes the checkpoint's frame too long, and the link refuses it.
    /// </summary>
    public const int MaxCpuStateBytes = 4 << 20;

    public static int MaxBodyLength(int maxRequestBytes, long ramBytes, int pageSize)
    {
        // MessagePack adds a few bytes per page (index and bin header) and a little per message.
        long checkpoint = ramBytes + (ramBytes / pageSize * 16) + 4096 + MaxCpuStateBytes;
        return (int)Math.Min(int.MaxValue - FrameHeader.Size, Math.Max(maxRequestBytes + MirrorHeader.Size, checkpoint));
    }
}
