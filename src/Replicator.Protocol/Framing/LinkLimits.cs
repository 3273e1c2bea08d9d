namespace Replicator.Protocol.Framing;

/// <summary>
/// The largest frame body a side accepts: a mirror of the largest request, or a checkpoint carrying
/// all of RAM. Here, beside the frame reader, so every shell that cuts frames (the daemons, the
/// in-memory pair) sizes its reader the same way.
/// </summary>
public static class LinkLimits
{
    public static int MaxBodyLength(int maxRequestBytes, long ramBytes, int pageSize)
    {
        // MessagePack adds a few bytes per page (index and bin header) and a little per message.
        long checkpoint = ramBytes + (ramBytes / pageSize * 16) + 4096;
        return (int)Math.Min(int.MaxValue - FrameHeader.Size, Math.Max(maxRequestBytes + MirrorHeader.Size, checkpoint));
    }
}
