using Replicator.Runtime.Tests.Storage;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Storage;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Tests.Links;
using Replicator.Runtime.Secondary;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests;

/// <summary>
/// Both nodes in one process over real TCP on 127.0.0.1 with real image files. Time is a
/// FakeTimeProvider that never advances, so only explicit checkpoints happen: the run is driven
/// by events, not by the clock.
/// </summary>
public sealed class PairOverTcpTests : IAsyncDisposable
{
    private const long DiskBytes = 1 << 20;
    private const int PageSize = 4096;
    private const int RamPages = 64;

    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-pair-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly LinkKey _linkKey;
    private readonly List<IAsyncDisposable> _nodes = new();

    public PairOverTcpTests()
    {
        ImageFile.Create(Path.Combine(_directory, "primary.img"), DiskBytes).Dispose();
        ImageFile.Create(Path.Combine(_directory, "secondary.img"), DiskBytes).Dispose();
        _linkKey = TestLinkKey.In(_directory);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable node in _nodes)
        {
            await node.DisposeAsync();
        }

        _linkKey.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<SecondaryNode> StartSecondary(string pairId = "pair-1", bool insecureLink = false)
    {
        var node = new SecondaryNode(
            new SecondaryNodeOptions
            {
                ImagePath = Path.Combine(_directory, "secondary.img"),
                StateDirectory = Path.Combine(_directory, "secondary-state"),
                LinkKey = insecureLink ? null : _linkKey,
                InsecureLink = insecureLink,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                PairId = pairId,
                MaxRequestBytes = 64 * 1024,
                BufferCapacityBytes = 1 << 20,
                RamBytes = RamPages * PageSize,
                PageSize = PageSize,
            },
            NullLogger<SecondaryNode>.Instance,
            _time);
        _nodes.Add(node);
        await node.StartAsync(CancellationToken.None);
        return node;
    }

    private async Task<PrimaryNode> StartPrimary(SecondaryNode secondary, SyntheticGuestRunner guest, string pairId = "pair-1", string image = "primary.img")
    {
        var node = new PrimaryNode(
            new PrimaryNodeOptions
            {
                // Both images start as the same bytes.
                SkipInitialSync = true,
                ImagePath = Path.Combine(_directory, image),
                StateDirectory = Path.Combine(_directory, "primary-state"),
                LinkKey = _linkKey,
                Peer = secondary.LocalEndPoint!,
                PairId = pairId,
                MaxRequestBytes = 64 * 1024,
                RamBytes = RamPages * PageSize,
                PageSize = PageSize,
            },
            guest,
            NullLogger<PrimaryNode>.Instance,
            _time);
        await node.StartAsync(CancellationToken.None);
        _nodes.Insert(0, node);
        return node;
    }

    private static SyntheticGuestRunner NewGuest(int seed) => new(new SyntheticGuest(new SyntheticGuestOptions
    {
        Seed = seed, DiskBytes = DiskBytes, RamPages = RamPages, PageSize = PageSize, MaxWriteBytes = 64 * 1024,
    }));

    [Fact]
    public async Task Each_acknowledged_checkpoint_reports_its_phases_with_the_secondary_s_timings()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        SecondaryNode secondary = await StartSecondary();
        SyntheticGuestRunner guest = NewGuest(3);
        PrimaryNode primary = await StartPrimary(secondary, guest);
        var timings = new List<CheckpointTiming>();
        primary.CheckpointCompleted = t => { lock (timings) { timings.Add(t); } };

        await guest.RunAsync(primary, 200, queueDepth: 8, timeout.Token);
        long epoch = await primary.CheckpointAsync().WaitAsync(timeout.Token);

        CheckpointTiming last;
        lock (timings)
        {
            last = timings.Single(t => t.Epoch == epoch);
            Assert.Contains(timings, t => t.Secondary?.BufferPeakBytes > 0);
        }

        // Durations come from the injected clock, which stands still here: present, and zero.
        Assert.NotNull(last.Secondary);
        Assert.Equal(0, last.Secondary.JournalFlushMicroseconds);
        Assert.True(last.Commit >= last.Drain + last.Capture + last.Link, "the phases lie within the commit");
        Assert.True(primary.LinkBytesSent > 0);
        Assert.True(guest.RequestsCompleted >= 200);
    }

    [Fact]
    public async Task An_unreplicated_primary_serves_the_guest_with_no_secondary_and_says_it_is_unprotected()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        SyntheticGuestRunner guest = NewGuest(4);
        var node = new PrimaryNode(
            new PrimaryNodeOptions
            {
                // Both images start as the same bytes.
                SkipInitialSync = true,
                ImagePath = Path.Combine(_directory, "primary.img"),
                StateDirectory = Path.Combine(_directory, "unreplicated-state"),
                Peer = new IPEndPoint(IPAddress.Loopback, 1), // never contacted
                Unreplicated = true,
                PairId = "pair-1",
                MaxRequestBytes = 64 * 1024,
                RamBytes = RamPages * PageSize,
                PageSize = PageSize,
            },
            guest,
            NullLogger<PrimaryNode>.Instance,
            _time);
        await node.StartAsync(timeout.Token);
        _nodes.Insert(0, node);

        await guest.RunAsync(node, 300, queueDepth: 8, timeout.Token);

        Assert.Equal(guest.Guest.Disk.ToArray(), await File.ReadAllBytesAsync(Path.Combine(_directory, "primary.img"), timeout.Token));
        PrimaryStatus status = node.Status;
        Assert.Equal(PrimaryNode.UnreplicatedReason, status.Degraded);
        Assert.Equal("none (replication off)", status.Link);
        Assert.Equal(0, node.LinkBytesSent);
        await Assert.ThrowsAsync<InvalidOperationException>(() => node.CheckpointAsync().WaitAsync(timeout.Token));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Checkpoints_commit_over_TCP_and_failover_holds_the_last_one_byte_for_byte(int seed)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        SecondaryNode secondary = await StartSecondary();
        SyntheticGuestRunner guest = NewGuest(seed);
        PrimaryNode primary = await StartPrimary(secondary, guest);

        long last = 0;
        for (int round = 0; round < 4; round++)
        {
            await guest.RunAsync(primary, 300, queueDepth: 8, timeout.Token);
            last = await primary.CheckpointAsync().WaitAsync(timeout.Token);
        }

        // More writes after the explicit checkpoint (early checkpoints may still close epochs
        // under buffer pressure); the guest is idle in an open epoch when the primary is lost.
        await guest.RunAsync(primary, 200, queueDepth: 8, timeout.Token);
        PrimaryStatus before = primary.Status;
        Assert.Null(before.Degraded);
        Assert.Equal("Running", before.Phase);

        long promoted = await secondary.PromoteAsync().WaitAsync(timeout.Token);
        Assert.InRange(promoted, last, before.CurrentEpoch - 1);
        await secondary.Takeover!.Closed.WaitAsync(timeout.Token); // what follows reads the image file itself
        await DisposeNodes();

        GuestCheckpoint expected = guest.Guest.ExpectedAt(promoted)!;
        byte[] image = await File.ReadAllBytesAsync(Path.Combine(_directory, "secondary.img"));
        byte[] ram = await File.ReadAllBytesAsync(Path.Combine(_directory, "secondary-state", "ram.img"));
        AppliedCheckpoint applied = AppliedCheckpoint.Read(Path.Combine(_directory, "secondary-state"));
        Assert.Null(expected.Compare(image, ram, applied.CpuState));
        Assert.Equal(promoted, applied.Epoch);
        Assert.Equal(Protocol.Generations.GenerationCause.Promotion, applied.State.Generations.Current!.Cause);
    }

    [Theory]
    [InlineData("pair-2", "primary.img", "wrong pair")]
    [InlineData("pair-1", "small.img", "image size differs")]
    public async Task A_primary_of_another_pair_or_size_is_refused_with_the_reason(string pairId, string image, string reason)
    {
        ImageFile.Create(Path.Combine(_directory, "small.img"), DiskBytes / 2).Dispose();
        SecondaryNode secondary = await StartSecondary();

        var e = await Assert.ThrowsAsync<HandshakeRefusedException>(() => StartPrimary(secondary, NewGuest(1), pairId, image));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_primary_of_another_image_size_is_refused_and_the_secondary_then_takes_the_right_one()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        ImageFile.Create(Path.Combine(_directory, "small.img"), DiskBytes / 2).Dispose();
        SecondaryNode secondary = await StartSecondary();

        await Assert.ThrowsAsync<HandshakeRefusedException>(() => StartPrimary(secondary, NewGuest(1), image: "small.img"));
        Assert.False(secondary.Fatal.IsCompleted);

        SyntheticGuestRunner guest = NewGuest(2);
        PrimaryNode primary = await StartPrimary(secondary, guest);
        await guest.RunAsync(primary, 20, queueDepth: 4, timeout.Token);
        Assert.True(await primary.CheckpointAsync().WaitAsync(timeout.Token) > 0);
    }

    [Fact]
    public async Task A_corrupted_frame_closes_the_link_and_nothing_of_it_is_committed()
    {
        // Frame checksums are what an --insecure-link pair has against damage; TLS adds its own.
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        SecondaryNode secondary = await StartSecondary(insecureLink: true);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(secondary.LocalEndPoint!, timeout.Token);

        await socket.SendAsync(PlainFramesOfACheckpoint(damageThePayload: true), SocketFlags.None, timeout.Token);
        byte[] received = await ReadUntilClosed(socket, timeout.Token);

        // The secondary answered Welcome, then an Error naming the damage, then closed.
        Assert.Contains("checksum", System.Text.Encoding.UTF8.GetString(received), StringComparison.Ordinal);
        Assert.Equal(0, secondary.Status.LastCommittedEpoch);

        // The node never held the pair's data (nothing was ever synced into it): it is not promoted either.
        InvalidOperationException refused = await Assert.ThrowsAsync<InvalidOperationException>(() => secondary.PromoteAsync().WaitAsync(timeout.Token));
        Assert.Contains("never held the pair's data", refused.Message, StringComparison.Ordinal);
        await DisposeNodes();
        byte[] image = await File.ReadAllBytesAsync(Path.Combine(_directory, "secondary.img"));
        Assert.All(image, b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task A_stranger_without_the_pair_key_is_told_nothing_and_its_checkpoint_never_reaches_the_replica()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        SecondaryNode secondary = await StartSecondary();
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(secondary.LocalEndPoint!, timeout.Token);

        // Well-formed frames with the right pair id, image size and a complete checkpoint: all a
        // stranger who guessed the pair could send.
        await socket.SendAsync(PlainFramesOfACheckpoint(damageThePayload: false), SocketFlags.None, timeout.Token);
        byte[] received = await ReadUntilClosed(socket, timeout.Token);

        string answer = System.Text.Encoding.Latin1.GetString(received);
        Assert.DoesNotContain("pair-1", answer, StringComparison.Ordinal);
        Assert.DoesNotContain(DiskBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), answer, StringComparison.Ordinal);
        Assert.Equal(0, secondary.Status.LastCommittedEpoch);
        Assert.False(secondary.Fatal.IsCompleted);

        // The pair's own primary, holding the key, is welcomed afterwards and protects the guest.
        SyntheticGuestRunner guest = NewGuest(3);
        PrimaryNode primary = await StartPrimary(secondary, guest);
        await guest.RunAsync(primary, 10, queueDepth: 2, timeout.Token);
        Assert.True(await primary.CheckpointAsync().WaitAsync(timeout.Token) > 0);
    }

    /// <summary>Hello for this pair, one 4 KiB write of 0xEE at offset 0, and the checkpoint that commits it, as plain frames.</summary>
    private static byte[] PlainFramesOfACheckpoint(bool damageThePayload)
    {
        var writer = new FrameWriter();
        var output = new ArrayBufferWriter<byte>();
        writer.WriteControl(output, FrameType.Hello, new HelloMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            Identity = new PairIdentity { PairId = "pair-1", ImageBytes = DiskBytes, BlockSize = 4096, MaxRequestBytes = 64 * 1024 },
        });
        var write = new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), Enumerable.Repeat((byte)0xEE, 4096).ToArray());
        int mirrorStart = output.WrittenCount;
        writer.WriteMirror(output, write);
        var digest = default(EpochDigest);
        digest.Add(write);
        var snapshot = new Core.Vm.VmSnapshot(1, [], []);
        writer.WriteControl(output, FrameType.Checkpoint, CheckpointMessage.From(new CheckpointRecord(1, 1, 1, digest.Value, snapshot, snapshot.ComputeDigest())));
        byte[] bytes = output.WrittenSpan.ToArray();
        if (damageThePayload)
        {
            bytes[mirrorStart + FrameHeader.Size + MirrorHeader.Size + 100] ^= 0x01; // one bit of the payload
        }

        return bytes;
    }

    private static async Task<byte[]> ReadUntilClosed(Socket socket, CancellationToken cancellation)
    {
        var all = new List<byte>();
        byte[] buffer = new byte[4096];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellation)) > 0)
        {
            all.AddRange(buffer.AsSpan(0, read).ToArray());
        }

        return all.ToArray();
    }

    private async Task DisposeNodes()
    {
        foreach (IAsyncDisposable node in _nodes)
        {
            await node.DisposeAsync();
        }

        _nodes.Clear();
    }
}
