using System.Buffers;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Tests.Links;

/// <summary>The link's protection on real loopback sockets: who gets through, and what a changed stream does.</summary>
public sealed class LinkTransportTests : IDisposable
{
    private static readonly TimeSpan Handshake = TimeSpan.FromSeconds(30);
    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-transport-").FullName;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(1));

    public void Dispose()
    {
        _timeout.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>Two connections over TLS with one pair key, the near one sending.</summary>
    private async Task<(FrameConnection Near, FrameConnection Far)> TlsPairAsync(LinkKey key)
    {
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, Handshake, TimeProvider.System, _timeout.Token);
        Stream near = await LinkTransport.ConnectAsync(client, key, Handshake, TimeProvider.System, _timeout.Token);
        var nearLink = new FrameConnection(client, near, 1024, TimeProvider.System);
        var farLink = new FrameConnection(server, await accepted, 1024, TimeProvider.System);
        nearLink.StartSending();
        return (nearLink, farLink);
    }

    [Fact]
    public async Task Two_ends_with_the_pair_key_exchange_frames()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        (FrameConnection nearLink, FrameConnection farLink) = await TlsPairAsync(key);
        await using FrameConnection nearOwned = nearLink, farOwned = farLink;

        nearLink.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 42 });
        HeartbeatMessage? got = await farLink.ReceiveOneAsync(frame => ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat), _timeout.Token);

        Assert.Equal(42, got?.Epoch);
    }

    [Fact]
    public async Task Over_TLS_frames_go_without_a_checksum_and_on_a_plain_link_with_one()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        (FrameConnection nearLink, FrameConnection farLink) = await TlsPairAsync(key);
        await using FrameConnection nearOwned = nearLink, farOwned = farLink;
        nearLink.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 7 });
        FrameHeader? tls = await farLink.ReceiveOneAsync<object>(frame => frame.Header, _timeout.Token) as FrameHeader?;

        (Socket plainClient, Socket plainServer) = await LoopbackSockets.ConnectedPair();
        await using var plainNear = new FrameConnection(plainClient, new NetworkStream(plainClient), 1024, TimeProvider.System);
        await using var plainFar = new FrameConnection(plainServer, new NetworkStream(plainServer), 1024, TimeProvider.System);
        plainNear.StartSending();
        plainNear.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 7 });
        FrameHeader? plain = await plainFar.ReceiveOneAsync<object>(frame => frame.Header, _timeout.Token) as FrameHeader?;

        Assert.Equal((FrameIntegrity.Transport, FrameHeader.TransportIntegrityFlag, 0u), (farLink.Integrity, tls?.Flags, tls?.Checksum));
        Assert.Equal((FrameIntegrity.Checksum, (byte)0), (plainFar.Integrity, plain?.Flags));
        Assert.NotEqual(0u, plain?.Checksum);
    }

    [Fact]
    public async Task Both_ends_encrypt_with_AES_128_GCM()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using Socket clientOwned = client, serverOwned = server;
        Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, Handshake, TimeProvider.System, _timeout.Token);
        await using Stream near = await LinkTransport.ConnectAsync(client, key, Handshake, TimeProvider.System, _timeout.Token);
        await using Stream far = await accepted;

        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, Assert.IsType<SslStream>(near).NegotiatedCipherSuite);
        Assert.Equal(TlsCipherSuite.TLS_AES_128_GCM_SHA256, Assert.IsType<SslStream>(far).NegotiatedCipherSuite);
    }

    [Fact]
    public async Task Frames_of_every_size_cross_TLS_whole_and_in_order()
    {
        // Around TLS's 16 KiB records and the 256 KiB the socket is read and written in under them.
        int[] sizes = [1, 4096, (16 * 1024) - 7, (16 * 1024) + 13, 200 * 1024, 256 * 1024, (256 * 1024) + 1, 512, 1024 * 1024, 3];
        using LinkKey key = TestLinkKey.In(_directory);
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, Handshake, TimeProvider.System, _timeout.Token);
        Stream nearStream = await LinkTransport.ConnectAsync(client, key, Handshake, TimeProvider.System, _timeout.Token);
        int maxBody = (1024 * 1024) + MirrorHeader.Size;
        await using var near = new FrameConnection(client, nearStream, maxBody, TimeProvider.System);
        await using var far = new FrameConnection(server, await accepted, maxBody, TimeProvider.System);
        near.StartSending();

        byte[][] payloads = sizes.Select((size, i) => { byte[] bytes = new byte[size]; new Random(i).NextBytes(bytes); return bytes; }).ToArray();
        for (int i = 0; i < payloads.Length; i++)
        {
            near.SendMirror(new Core.Epochs.MirrorRecord(1, i + 1, Core.Blocks.BlockRequest.Write(0, payloads[i].Length), payloads[i]));
        }

        var received = new List<byte[]>();
        await far.ReceiveAsync(
            frame =>
            {
                received.Add(frame.Body.Slice(MirrorHeader.Size).ToArray());
                return received.Count < payloads.Length;
            },
            _timeout.Token);

        Assert.Equal(payloads, received);
    }

    [Fact]
    public async Task A_link_sized_for_a_guest_of_over_1_GiB_of_RAM_still_takes_a_frame_larger_than_its_first_buffer()
    {
        // Two of the largest frames (a RAM snapshot of 1.5 GiB) exceed an int: the bound must not wrap.
        const int maxBody = 1536 << 20;
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        await using var near = new FrameConnection(client, new NetworkStream(client), maxBody, TimeProvider.System);
        await using var far = new FrameConnection(server, new NetworkStream(server), maxBody, TimeProvider.System);
        near.StartSending();

        byte[] payload = new byte[128 * 1024];
        near.SendMirror(new Core.Epochs.MirrorRecord(1, 1, Core.Blocks.BlockRequest.Write(0, payload.Length), payload));
        long? length = null;
        await far.ReceiveAsync(frame => { length = frame.Body.Length; return false; }, _timeout.Token);

        Assert.Equal(MirrorHeader.Size + payload.Length, length);
    }

    [Fact]
    public async Task Ends_with_different_keys_both_refuse()
    {
        using LinkKey ours = TestLinkKey.In(_directory, "ours.key");
        using LinkKey theirs = TestLinkKey.In(_directory, "theirs.key");
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using (client)
        using (server)
        {
            Task<Stream> accepted = LinkTransport.AcceptAsync(server, ours, Handshake, TimeProvider.System, _timeout.Token);
            Task<Stream> connected = LinkTransport.ConnectAsync(client, theirs, Handshake, TimeProvider.System, _timeout.Token);

            await Assert.ThrowsAsync<LinkAuthenticationException>(() => connected);
            await Assert.ThrowsAsync<LinkAuthenticationException>(() => accepted);
        }
    }

    [Fact]
    public async Task A_plain_client_s_frames_are_refused_before_any_is_read()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using (client)
        using (server)
        {
            Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, Handshake, TimeProvider.System, _timeout.Token);
            var frames = new System.Buffers.ArrayBufferWriter<byte>();
            new FrameWriter().WriteControl(frames, FrameType.Hello, new HelloMessage
            {
                ProtocolVersion = Protocol.Messages.Handshake.ProtocolVersion,
                Identity = new PairIdentity { PairId = "replicator", ImageBytes = 1 << 20, BlockSize = 4096, MaxRequestBytes = 65536 },
            });
            await client.SendAsync(frames.WrittenMemory, SocketFlags.None, _timeout.Token);

            LinkAuthenticationException refused = await Assert.ThrowsAsync<LinkAuthenticationException>(() => accepted);
            Assert.Contains("did not prove the pair key", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_peer_that_never_completes_the_handshake_is_dropped_at_the_timeout()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        var time = new FakeTimeProvider();
        (Socket client, Socket server) = await LoopbackSockets.ConnectedPair();
        using (client)
        using (server)
        {
            Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, TimeSpan.FromSeconds(5), time, _timeout.Token);
            time.Advance(TimeSpan.FromSeconds(4));
            Assert.False(accepted.IsCompleted);
            time.Advance(TimeSpan.FromSeconds(2));

            LinkAuthenticationException refused = await Assert.ThrowsAsync<LinkAuthenticationException>(() => accepted);
            Assert.Contains("no TLS handshake within 5000 ms", refused.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_replayed_record_ends_the_link_and_its_frame_is_not_delivered_twice()
    {
        using LinkKey key = TestLinkKey.In(_directory);
        using var relay = new RecordingRelay();
        (Socket client, Socket server) = await relay.ConnectAsync(_timeout.Token);
        Task<Stream> accepted = LinkTransport.AcceptAsync(server, key, Handshake, TimeProvider.System, _timeout.Token);
        Stream near = await LinkTransport.ConnectAsync(client, key, Handshake, TimeProvider.System, _timeout.Token);
        await using var nearLink = new FrameConnection(client, near, 1024, TimeProvider.System);
        await using var farLink = new FrameConnection(server, await accepted, 1024, TimeProvider.System);
        nearLink.StartSending();

        var epochs = new List<long>();
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task receiving = farLink.ReceiveAsync(
            frame =>
            {
                epochs.Add(ControlCodec.Decode<HeartbeatMessage>(frame, FrameType.Heartbeat).Epoch);
                first.TrySetResult();
                return true;
            },
            _timeout.Token);
        nearLink.SendControl(FrameType.Heartbeat, new HeartbeatMessage { Epoch = 7 });
        await first.Task.WaitAsync(_timeout.Token);

        await relay.ReplayLastAsync(_timeout.Token);

        await Assert.ThrowsAnyAsync<IOException>(() => receiving);
        Assert.Equal([7L], epochs);
    }

    /// <summary>A man in the middle who forwards both ways and can send the client's last chunk again.</summary>
    private sealed class RecordingRelay : IDisposable
    {
        private readonly List<Socket> _sockets = new();
        private byte[] _lastFromClient = [];
        private Socket? _toServer;

        public async Task<(Socket Client, Socket Server)> ConnectAsync(CancellationToken cancellation)
        {
            (Socket client, Socket relayIn) = await LoopbackSockets.ConnectedPair();
            (Socket relayOut, Socket server) = await LoopbackSockets.ConnectedPair();
            _sockets.AddRange([client, relayIn, relayOut, server]);
            _toServer = relayOut;
            _ = PumpAsync(relayIn, relayOut, record: true, cancellation);
            _ = PumpAsync(relayOut, relayIn, record: false, cancellation);
            return (client, server);
        }

        public async Task ReplayLastAsync(CancellationToken cancellation) =>
            await _toServer!.SendAsync(Volatile.Read(ref _lastFromClient), SocketFlags.None, cancellation);

        public void Dispose()
        {
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }
        }

        private async Task PumpAsync(Socket from, Socket to, bool record, CancellationToken cancellation)
        {
            byte[] buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellation)) > 0)
                {
                    if (record)
                    {
                        Volatile.Write(ref _lastFromClient, buffer.AsSpan(0, read).ToArray());
                    }

                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, cancellation);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                // The test closed the relay.
            }
        }
    }
}
