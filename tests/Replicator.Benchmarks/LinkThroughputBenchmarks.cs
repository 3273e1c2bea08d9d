using System.Buffers;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Runtime.Links;

namespace Replicator.Benchmarks;

/// <summary>
/// The replication link's data path: mirror frames pushed through two <see cref="FrameConnection"/>s
/// (send pipe, loopback TCP without TLS, receive pipe, the frame reader's checks and checksum), per
/// frame, against the same bytes through two bare sockets in the same run (the baseline). The
/// ratio is what the framing and the pipes cost over the transport.
/// </summary>
[MemoryDiagnoser]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: the connections are disposed in [GlobalCleanup], not by a Dispose it would never call.")]
public class LinkThroughputBenchmarks
{
    private const int FramesPerOperation = 512;

    private Socket[] _sockets = [];
    private FrameConnection _near = null!;
    private FrameConnection _far = null!;
    private Socket _rawNear = null!;
    private Socket _rawFar = null!;
    private MirrorRecord _record;
    private byte[] _encoded = [];
    private readonly byte[] _drain = new byte[256 * 1024];

    /// <summary>The payload of each mirror frame: a 4 KiB or a 64 KiB write.</summary>
    [Params(4096, 65536)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (Socket a, Socket b) = ConnectedPair();
        (_rawNear, _rawFar) = ConnectedPair();
        _sockets = [a, b, _rawNear, _rawFar];
        int maxBody = PayloadBytes + MirrorHeader.Size;
        _near = new FrameConnection(a, new NetworkStream(a), maxBody, TimeProvider.System);
        _far = new FrameConnection(b, new NetworkStream(b), maxBody, TimeProvider.System);
        _near.StartSending();

        byte[] payload = new byte[PayloadBytes];
        new Random(1).NextBytes(payload);
        _record = new MirrorRecord(1, 1, BlockRequest.Write(0, PayloadBytes), payload);
        var frames = new ArrayBufferWriter<byte>();
        var writer = new FrameWriter();
        for (int i = 0; i < FramesPerOperation; i++)
        {
            writer.WriteMirror(frames, _record);
        }

        _encoded = frames.WrittenSpan.ToArray();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = FramesPerOperation)]
    public async Task PlainSockets()
    {
        Task receiving = ReceiveRawAsync(_encoded.Length);
        await _rawNear.SendAsync(_encoded, SocketFlags.None);
        await receiving;
    }

    [Benchmark(OperationsPerInvoke = FramesPerOperation)]
    public async Task FrameConnections()
    {
        int received = 0;
        Task receiving = _far.ReceiveAsync(_ => ++received < FramesPerOperation, CancellationToken.None);
        for (int i = 0; i < FramesPerOperation; i++)
        {
            _near.SendMirror(_record);
        }

        await receiving;
    }

    [GlobalCleanup]
    public async Task Cleanup()
    {
        await _near.DisposeAsync();
        await _far.DisposeAsync();
        foreach (Socket socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private async Task ReceiveRawAsync(int bytes)
    {
        for (int got = 0; got < bytes;)
        {
            got += await _rawFar.ReceiveAsync(_drain, SocketFlags.None);
        }
    }

    private static (Socket Client, Socket Server) ConnectedPair()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        client.Connect((IPEndPoint)listener.LocalEndpoint);
        Socket server = listener.AcceptSocket();
        server.NoDelay = true;
        return (client, server);
    }
}
