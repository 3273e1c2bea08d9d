using System.Globalization;

namespace Replicator.Nbd.Tests.Support;

/// <summary>What the kernel can hold of a connection's data outside the server, so a test can send more than that.</summary>
internal static class KernelBuffers
{
    /// <summary>The receive buffer the tests' non-reading clients fix (the kernel doubles it).</summary>
    public const int SmallReceiveBuffer = 16 << 10;

    /// <summary>The most a TCP socket's send buffer grows to (tcp_wmem's maximum).</summary>
    public static long SendBufferMax { get; } =
        long.Parse(File.ReadAllText("/proc/sys/net/ipv4/tcp_wmem").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);

    /// <summary>
    /// How many replies of <paramref name="replyBytes"/> a client with <see cref="SmallReceiveBuffer"/>
    /// that never reads leaves, at least one of them, in the server: more than the kernel buffers of
    /// both ends hold, with <paramref name="extraBytes"/> on top.
    /// </summary>
    public static int RepliesBeyondKernelBuffers(int replyBytes, long extraBytes = 0) =>
        (int)(((SendBufferMax + (4L * SmallReceiveBuffer) + extraBytes) / replyBytes) + 2);
}
