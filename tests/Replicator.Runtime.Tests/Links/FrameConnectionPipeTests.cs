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
