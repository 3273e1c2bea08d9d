using System.Buffers;
using System.Net.Sockets;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Tests.Links;

/// <summary>The link's two pipes on real loopback sockets: frames cut wherever the reads split them, none waiting for bytes it already has.</summary>
public sealed class FrameConnectionPipeTests : IDisposable
{
    private const int MaxBody = 2 << 20;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(1));
    private readonly PayloadPool _pool = new();

    public void Dispose() => _timeout.Dispose();

    [Fact]
    public async Task A_frame_already_received_is_handed_out_by_the_next_call_without_waiting_for_more_bytes()
    {
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using (client)
        {
            await using var far = new FrameConnection(server, new NetworkStream(server), MaxBody, TimeProvider.System);
            var frames = new ArrayBufferWriter<byte>();
            var writer = new FrameWriter();
            writer.WriteControl(frames, FrameType.Heartbeat, new HeartbeatMessage { Epoch = 1 });
            writer.WriteControl(frames, FrameType.Heartbeat, new HeartbeatMessage { Epoch = 2 });
            await client.SendAsync(frames.WrittenMemory, SocketFlags.None, _timeout.Token); // both in one write, then silence

            HeartbeatMessage? first = await far.ReceiveOneAsync(f => ControlCodec.Decode<HeartbeatMessage>(f, FrameType.Heartbeat), _timeout.Token);
            HeartbeatMessage? second = await far.ReceiveOneAsync(f => ControlCodec.Decode<HeartbeatMessage>(f, FrameType.Heartbeat), _timeout.Token);

            Assert.Equal((1L, 2L), (first!.Epoch, second!.Epoch));
        }
    }

    [Fact]
    public async Task A_large_frame_dribbled_in_small_writes_arrives_whole_and_exact()
    {
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using (client)
        {
            await using var far = new FrameConnection(server, new NetworkStream(server), MaxBody, TimeProvider.System);
            byte[] payload = Pattern(1 << 20, seed: 7);
            var frames = new ArrayBufferWriter<byte>();
            new FrameWriter().WriteMirror(frames, new MirrorRecord(1, 1, BlockRequest.Write(0, payload.Length), payload));
            Task sending = Dribble(client, frames.WrittenMemory, chunk: 1000);

            byte[]? received = null;
            await far.ReceiveAsync(f => { received = Payload(f); return false; }, _timeout.Token);
            await sending;

            Assert.Equal(payload, received);
        }
    }

    [Fact]
    public async Task Frames_of_every_size_cross_both_pipes_in_order_and_intact()
    {
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        await using var near = new FrameConnection(client, new NetworkStream(client), MaxBody, TimeProvider.System);
        await using var far = new FrameConnection(server, new NetworkStream(server), MaxBody, TimeProvider.System);
        near.StartSending();
        var random = new Random(11);
        int[] sizes = Enumerable.Range(0, 300).Select(_ => random.Next(0, 8) == 0 ? random.Next(64 * 1024, 1 << 20) : random.Next(1, 9000) * 512 % (256 * 1024)).Select(s => Math.Max(512, s - (s % 512))).ToArray();
        for (int i = 0; i < sizes.Length; i++)
        {
            near.SendMirror(new MirrorRecord(1, i + 1, BlockRequest.Write(0, sizes[i]), Pattern(sizes[i], seed: i)));
        }

        int next = 0;
        await far.ReceiveAsync(
            f =>
            {
                MirrorRecord record = MirrorDecoder.Decode(f, _pool, out IMemoryOwner<byte>? owner);
                using (owner)
                {
                    Assert.Equal(next + 1, record.Sequence);
                    Assert.True(record.Payload.Span.SequenceEqual(Pattern(sizes[next], seed: next)), $"frame {next} differs");
                }

                return ++next < sizes.Length;
            },
            _timeout.Token);

        Assert.Equal(sizes.Length, next);
        Assert.Equal(sizes.Sum(s => (long)s + MirrorHeader.Size + FrameHeader.Size), near.BytesSent);
    }

    [Fact]
    public async Task Mirror_records_gather_up_to_the_batch_and_go_out_ahead_of_the_next_control_frame()
    {
        const int Batch = 64 * 1024;
        const int FrameBytes = 4096 + MirrorHeader.Size + FrameHeader.Size;
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        await using var near = new FrameConnection(client, new NetworkStream(client), MaxBody, TimeProvider.System, mirrorBatchBytes: Batch);
        await using var far = new FrameConnection(server, new NetworkStream(server), MaxBody, TimeProvider.System);
        near.StartSending();

        // Three small records wait in the pipe; the heartbeat behind them takes them out, in order.
        for (int i = 1; i <= 3; i++)
        {
            near.SendMirror(new MirrorRecord(1, i, BlockRequest.Write(0, 4096), Pattern(4096, seed: i)));
        }

        long heldBeforeControl = near.HeldMirrorBytes;
        near.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 1 });
        long heldAfterControl = near.HeldMirrorBytes;
        var arrived = new List<string>();
        await far.ReceiveAsync(f => Collect(f, arrived) != "heartbeat 1", _timeout.Token);

        Assert.Equal((3L * FrameBytes, 0L), (heldBeforeControl, heldAfterControl));
        Assert.Equal(["mirror 1", "mirror 2", "mirror 3", "heartbeat 1"], arrived);

        // A full batch goes on its own, with no control frame behind it; the record after it waits.
        int toFill = (Batch + FrameBytes - 1) / FrameBytes;
        var heldAfterEach = new List<long>();
        for (int i = 4; i < 4 + toFill + 1; i++)
        {
            near.SendMirror(new MirrorRecord(1, i, BlockRequest.Write(0, 4096), Pattern(4096, seed: i)));
            heldAfterEach.Add(near.HeldMirrorBytes);
        }

        arrived.Clear();
        await far.ReceiveAsync(f => Collect(f, arrived) != $"mirror {3 + toFill}", _timeout.Token);

        Assert.Equal(Enumerable.Range(1, toFill - 1).Select(n => (long)n * FrameBytes).Append(0).Append(FrameBytes), heldAfterEach);
        Assert.Equal(Enumerable.Range(4, toFill).Select(i => $"mirror {i}"), arrived);
    }

    [Fact]
    public async Task With_no_mirror_batch_each_record_is_handed_to_the_send_loop_at_once()
    {
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        await using var near = new FrameConnection(client, new NetworkStream(client), MaxBody, TimeProvider.System);
        await using var far = new FrameConnection(server, new NetworkStream(server), MaxBody, TimeProvider.System);
        near.StartSending();

        near.SendMirror(new MirrorRecord(1, 1, BlockRequest.Write(0, 512), Pattern(512, seed: 1)));
        long held = near.HeldMirrorBytes;
        var arrived = new List<string>();
        await far.ReceiveAsync(f => Collect(f, arrived) != "mirror 1", _timeout.Token);

        Assert.Equal(0, held);
        Assert.Equal(["mirror 1"], arrived);
    }

    /// <summary>Names a received frame ("mirror SEQUENCE" or "heartbeat EPOCH"), adds it to <paramref name="arrived"/>, and returns it.</summary>
    private string Collect(in Frame frame, List<string> arrived)
    {
        string name = frame.Type == FrameType.Heartbeat
            ? $"heartbeat {ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat).Epoch}"
            : $"mirror {MirrorSequence(frame)}";
        arrived.Add(name);
        return name;
    }

    private long MirrorSequence(in Frame frame)
    {
        MirrorRecord record = MirrorDecoder.Decode(frame, _pool, out IMemoryOwner<byte>? owner);
        using (owner)
        {
            return record.Sequence;
        }
    }

    private byte[] Payload(in Frame frame)
    {
        MirrorRecord record = MirrorDecoder.Decode(frame, _pool, out IMemoryOwner<byte>? owner);
        using (owner)
        {
            return record.Payload.ToArray();
        }
    }

    private async Task Dribble(Socket socket, ReadOnlyMemory<byte> bytes, int chunk)
    {
        for (int at = 0; at < bytes.Length; at += chunk)
        {
            await socket.SendAsync(bytes.Slice(at, Math.Min(chunk, bytes.Length - at)), SocketFlags.None, _timeout.Token);
        }
    }

    private static byte[] Pattern(int length, int seed)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
