using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Replicator.Cli.Diagnostics;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;
using Replicator.Runtime.Storage;

namespace Replicator.Cli.Bench;

/// <summary>
/// The physical floor under an epoch commit, measured on this machine in the same run: the round
/// trip of one small frame over a loopback link (the same framing and connection code as the
/// pair's), how fast an epoch's bytes go through such a link, and how long the secondary's
/// file system takes to fdatasync an overwrite. No commit can beat the sum of the three. The link
/// is measured plain (the floor) and again with TLS and the pair key, as the pair runs: the
/// difference is what authentication and encryption cost.
/// </summary>
internal static class FloorProbe
{
    private const int RoundTrips = 2000;
    private const int BandwidthPayload = 64 * 1024;
    private const int BandwidthBytes = 64 << 20;

    /// <summary>How long the link is pushed before its bandwidth is timed (at most <see cref="MaxWarmUpPushes"/> pushes, so a slow machine stops too).</summary>
    private static readonly TimeSpan LinkWarmUp = TimeSpan.FromSeconds(1);
    private const int MaxWarmUpPushes = 40;

    public static async Task<Floor> MeasureAsync(string directory, LinkKey key, CancellationToken cancellation)
    {
        (LatencySummary rtt, double framed) = await MeasureLinkAsync(null, cancellation).ConfigureAwait(false);
        (LatencySummary tlsRtt, double tlsFramed) = await MeasureLinkAsync(key, cancellation).ConfigureAwait(false);
        double raw = await MeasureRawBandwidthAsync(cancellation).ConfigureAwait(false);
        LatencySummary overwrite = MeasureOverwriteSync(directory);
        LatencySummary append = MeasureAppendSync(directory);
        return new Floor(rtt.P50, rtt.P99, raw / 1e6, framed / 1e6, overwrite.P50, overwrite.P99, append.P50)
        {
            TlsRttUs = tlsRtt.P50,
            TlsFramedBandwidthMBps = tlsFramed / 1e6,
        };
    }

    /// <summary>Best of three pushes of 64 MiB through a plain loopback TCP connection: what the link itself carries.</summary>
    private static async Task<double> MeasureRawBandwidthAsync(CancellationToken cancellation)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task<Socket> accepted = listener.AcceptSocketAsync(cancellation).AsTask();
        await sender.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation).ConfigureAwait(false);
        using Socket receiver = await accepted.ConfigureAwait(false);
        byte[] chunk = new byte[1 << 20], sink = new byte[1 << 20];
        Random.Shared.NextBytes(chunk);
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            long start = Stopwatch.GetTimestamp();
            Task receiving = Task.Run(
                async () =>
                {
                    for (long got = 0; got < BandwidthBytes;)
                    {
                        int read = await receiver.ReceiveAsync(sink, SocketFlags.None, cancellation).ConfigureAwait(false);
                        got += read > 0 ? read : throw new IOException("the probe's own connection closed");
                    }
                },
                cancellation);
            for (int sent = 0; sent < BandwidthBytes; sent += chunk.Length)
            {
                await sender.SendAsync(chunk, SocketFlags.None, cancellation).ConfigureAwait(false);
            }

            await receiving.WaitAsync(TimeSpan.FromMinutes(1), cancellation).ConfigureAwait(false);
            best = Math.Max(best, BandwidthBytes / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return best;
    }

    /// <summary>The link's own costs through the pair's connection code: plain (<paramref name="key"/> null) or TLS with the pair key.</summary>
    private static async Task<(LatencySummary Rtt, double BytesPerSecond)> MeasureLinkAsync(LinkKey? key, CancellationToken cancellation)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Task<Socket> accepted = listener.AcceptSocketAsync(cancellation).AsTask();
        await client.ConnectAsync((IPEndPoint)listener.LocalEndpoint, cancellation).ConfigureAwait(false);
        int maxBody = BandwidthPayload + MirrorHeader.Size;
        Socket server = await accepted.ConfigureAwait(false);
        TimeSpan handshake = TimeSpan.FromSeconds(10);
        Task<Stream> serverStream = LinkTransport.AcceptAsync(server, key, handshake, TimeProvider.System, cancellation);
        Stream clientStream = await LinkTransport.ConnectAsync(client, key, handshake, TimeProvider.System, cancellation).ConfigureAwait(false);
        await using var near = new FrameConnection(client, clientStream, maxBody, TimeProvider.System);
        await using var far = new FrameConnection(server, await serverStream.ConfigureAwait(false), maxBody, TimeProvider.System);
        near.StartSending();
        far.StartSending();

        // The far side answers each heartbeat with one, and counts the mirror bytes it gets.
        long received = 0, expected = long.MaxValue;
        var allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        Task farLoop = far.ReceiveAsync(
            frame =>
            {
                if (frame.Type == FrameType.Heartbeat)
                {
                    far.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 0 });
                }
                else if ((received += frame.Body.Length) >= Volatile.Read(ref expected))
                {
                    allReceived.TrySetResult();
                }

                return true;
            },
            stop.Token);
        using var replies = new SemaphoreSlim(0);
        Task nearLoop = near.ReceiveAsync(_ => { replies.Release(); return true; }, stop.Token);

        var rtt = new LatencyHistogram();
        for (int i = 0; i < RoundTrips + 200; i++)
        {
            long start = Stopwatch.GetTimestamp();
            near.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = i });
            await replies.WaitAsync(cancellation).ConfigureAwait(false);
            if (i >= 200)
            {
                rtt.Record(Stopwatch.GetElapsedTime(start));
            }
        }

        // For reference, the same through the framing (checksums, one copy into the batch): best of
        // three pushes of 64 MiB in 64 KiB mirror frames, each timed from the first send to the last
        // byte received. Pushes for a second before, untimed: the first ones measure the runtime
        // compiling the link's code and filling its pools, not the link (half the rate at 1 s).
        byte[] payload = new byte[BandwidthPayload];
        Random.Shared.NextBytes(payload);
        long sequence = 1;
        async Task<double> PushAsync()
        {
            int frames = BandwidthBytes / BandwidthPayload;
            Volatile.Write(ref expected, Volatile.Read(ref received) + ((long)frames * (BandwidthPayload + MirrorHeader.Size)));
            allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < frames; i++)
            {
                near.SendMirror(new MirrorRecord(1, sequence++, BlockRequest.Write((long)i * BandwidthPayload, BandwidthPayload), payload));
            }

            await allReceived.Task.WaitAsync(TimeSpan.FromMinutes(1), cancellation).ConfigureAwait(false);
            return frames * (double)(BandwidthPayload + MirrorHeader.Size + FrameHeader.Size) / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        long warmUpStart = Stopwatch.GetTimestamp();
        for (int push = 0; push < MaxWarmUpPushes && Stopwatch.GetElapsedTime(warmUpStart) < LinkWarmUp; push++)
        {
            await PushAsync().ConfigureAwait(false);
        }

        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            best = Math.Max(best, await PushAsync().ConfigureAwait(false));
        }

        await stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(Quietly(farLoop), Quietly(nearLoop)).ConfigureAwait(false);
        return (rtt.Summary(), best);
    }

    /// <summary>fdatasync after overwriting 4 KiB of an allocated file: what an image flush costs at least.</summary>
    private static LatencySummary MeasureOverwriteSync(string directory)
    {
        string path = Path.Combine(directory, "floor-overwrite.img");
        var syncs = new LatencyHistogram();
        try
        {
            using (ImageFile file = ImageFile.Create(path, 1 << 20))
            {
                byte[] block = new byte[4096];
                Random.Shared.NextBytes(block);
                for (long at = 0; at < file.Size; at += block.Length)
                {
                    file.Write(at, block);
                }

                file.Flush();
                for (int i = 0; i < 220; i++)
                {
                    block[0] = (byte)i;
                    file.Write(Random.Shared.Next(256) * 4096L, block);
                    long start = Stopwatch.GetTimestamp();
                    file.Flush();
                    if (i >= 20)
                    {
                        syncs.Record(Stopwatch.GetElapsedTime(start));
                    }
                }
            }
        }
        finally
        {
            File.Delete(path);
        }

        return syncs.Summary();
    }

    /// <summary>The sync after appending 1 MiB to a file, as the commit journal does each epoch (for reference: not part of the floor).</summary>
    private static LatencySummary MeasureAppendSync(string directory)
    {
        string path = Path.Combine(directory, "floor-append.bin");
        var syncs = new LatencyHistogram();
        byte[] entry = new byte[1 << 20];
        Random.Shared.NextBytes(entry);
        try
        {
            using SafeFileHandle handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
            for (int i = 0; i < 40; i++)
            {
                RandomAccess.Write(handle, entry, (long)i * entry.Length);
                long start = Stopwatch.GetTimestamp();
                RandomAccess.FlushToDisk(handle);
                syncs.Record(Stopwatch.GetElapsedTime(start));
            }
        }
        finally
        {
            File.Delete(path);
        }

        return syncs.Summary();
    }

    private static async Task Quietly(Task loop)
    {
        try
        {
            await loop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // The probe closed its own link.
        }
    }
}

/// <summary>
/// The floor's measurements: loopback round trip of a frame (µs), loopback TCP bandwidth (MB/s),
/// fdatasync of an overwrite (µs); and for reference the bandwidth through the framing (MB/s) and
/// the sync of a 1 MiB append (µs), which are costs of this design rather than of the machine.
/// </summary>
internal sealed record Floor(double RttUs, double RttP99Us, double BandwidthMBps, double FramedBandwidthMBps, double FdatasyncUs, double FdatasyncP99Us, double AppendSync1MiBUs)
{
    /// <summary>The same round trip as <see cref="RttUs"/> over the authenticated, encrypted link (µs): what TLS adds per exchange.</summary>
    public double TlsRttUs { get; init; }

    /// <summary>The same push as <see cref="FramedBandwidthMBps"/> over the authenticated, encrypted link (MB/s).</summary>
    public double TlsFramedBandwidthMBps { get; init; }

    /// <summary>The least an epoch commit carrying <paramref name="bytes"/> over the link can take: one round trip, the bytes through the link, one fdatasync.</summary>
    public double FloorUs(double bytes) => RttUs + (bytes / (BandwidthMBps * 1e6) * 1e6) + FdatasyncUs;

    /// <summary>The link's share of the floor: one round trip and the bytes through it.</summary>
    public double LinkFloorUs(double bytes) => RttUs + (bytes / (BandwidthMBps * 1e6) * 1e6);
}
