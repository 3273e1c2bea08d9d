using Replicator.Runtime.Tests.Storage;
using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Replicator.Hosts.Storage;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Runtime.Guest;
using Replicator.Runtime.Links;
using Replicator.Runtime.Primary;
using Replicator.Runtime.Tests.Links;
using Replicator.Runtime.Secondary;
using Replicator.Runtime.Storage;
using Replicator.Testing;

namespace Replicator.Runtime.Tests;

/// <summary>
/// Reconnection and resync over real TCP through a proxy that can pull the cable. Time is a
/// FakeTimeProvider: the reconnect backoff and the interval checkpoints fire only when a test
/// advances it, so every step waits for an event of the nodes, never for the clock.
/// </summary>
public sealed class ReconnectOverTcpTests : IAsyncDisposable
{
    private const long DiskBytes = 1 << 20;
    private const int PageSize = 4096;
    private const int RamPages = 64;
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan EpochInterval = TimeSpan.FromMilliseconds(25);

    private readonly string _directory = Directory.CreateTempSubdirectory("replicator-reconnect-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly LinkKey _linkKey;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(2));
    private readonly List<IAsyncDisposable> _disposables = new();

    public ReconnectOverTcpTests()
    {
        ImageFile.Create(Path.Combine(_directory, "primary.img"), DiskBytes).Dispose();
        ImageFile.Create(Path.Combine(_directory, "secondary.img"), DiskBytes).Dispose();
        _linkKey = TestLinkKey.In(_directory);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (IAsyncDisposable disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        _timeout.Dispose();
        _linkKey.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task A_cut_mid_epoch_heals_by_a_resync_under_load_and_failover_then_holds_the_last_checkpoint(int seed)
    {
        SecondaryNode secondary = await StartSecondary();
        await using var proxy = new TcpProxy(secondary.LocalEndPoint!);
        SyntheticGuestRunner guest = NewGuest(seed);
        PrimaryNode primary = await StartPrimary(proxy.EndPoint, guest);
        Task<string?> degraded = Next(primary, PrimaryReplication.Degraded);
        Task<string?> resyncing = Next(primary, PrimaryReplication.Resyncing);
        Task<string?> protectedAgain = Next(primary, PrimaryReplication.Protected);

        await guest.RunAsync(primary, 300, queueDepth: 8, _timeout.Token);
        await primary.CheckpointAsync().WaitAsync(_timeout.Token);
        await guest.RunAsync(primary, 100, queueDepth: 8, _timeout.Token);   // an open epoch, never checkpointed
        proxy.Cut();
        Assert.NotNull(await degraded.WaitAsync(_timeout.Token));

        await guest.RunAsync(primary, 300, queueDepth: 8, _timeout.Token);   // degraded: local only
        proxy.Heal();
        _time.Advance(ReconnectDelay);
        // The event is the proof: the status read after it may already say Protected, when the
        // reconnect's timer step also ran the epoch timer and the small resync's checkpoint came back.
        await resyncing.WaitAsync(_timeout.Token);

        // The guest keeps writing while the regions are copied.
        Task writes = guest.RunAsync(primary, 300, queueDepth: 8, _timeout.Token);
        await DriveCheckpointsUntil(primary, protectedAgain);
        await writes;
        long last = await primary.CheckpointAsync().WaitAsync(_timeout.Token);
        Assert.Null(primary.Status.Degraded);
        Assert.Equal("Protected", primary.Status.Replication);

        await AssertFailoverHolds(secondary, guest, last);
    }

    [Fact]
    public async Task A_secondary_restarted_with_nothing_committed_lost_is_resynced_and_protects_again()
    {
        SecondaryNode secondary = await StartSecondary();
        await using var proxy = new TcpProxy(secondary.LocalEndPoint!);
        SyntheticGuestRunner guest = NewGuest(3);
        PrimaryNode primary = await StartPrimary(proxy.EndPoint, guest);
        Task<string?> degraded = Next(primary, PrimaryReplication.Degraded);
        Task<string?> protectedAgain = Next(primary, PrimaryReplication.Protected);

        await guest.RunAsync(primary, 300, queueDepth: 8, _timeout.Token);
        long before = await primary.CheckpointAsync().WaitAsync(_timeout.Token);
        await secondary.DisposeAsync();
        _disposables.Remove(secondary);
        await degraded.WaitAsync(_timeout.Token);
        await guest.RunAsync(primary, 200, queueDepth: 8, _timeout.Token);

        SecondaryNode restarted = await StartSecondary();
        Assert.Equal(before, restarted.Status.LastCommittedEpoch);
        proxy.Target = restarted.LocalEndPoint!;
        _time.Advance(ReconnectDelay);
        await DriveCheckpointsUntil(primary, protectedAgain);
        long last = await primary.CheckpointAsync().WaitAsync(_timeout.Token);

        await AssertFailoverHolds(restarted, guest, last);
    }

    [Fact]
    public async Task A_secondary_promoted_meanwhile_fences_the_primary_which_stays_degraded_and_stops_trying()
    {
        SecondaryNode secondary = await StartSecondary();
        await using var proxy = new TcpProxy(secondary.LocalEndPoint!);
        SyntheticGuestRunner guest = NewGuest(4);
        PrimaryNode primary = await StartPrimary(proxy.EndPoint, guest);
        Task<string?> degraded = Next(primary, PrimaryReplication.Degraded);
        var fenced = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        primary.FencedOff = reason => fenced.TrySetResult(reason);

        await guest.RunAsync(primary, 200, queueDepth: 8, _timeout.Token);
        long last = await primary.CheckpointAsync().WaitAsync(_timeout.Token);
        proxy.Cut();
        await degraded.WaitAsync(_timeout.Token);
        Assert.Equal(last, await secondary.PromoteAsync().WaitAsync(_timeout.Token));

        proxy.Heal();
        _time.Advance(ReconnectDelay);
        Assert.Contains("promoted", await fenced.Task.WaitAsync(_timeout.Token), StringComparison.Ordinal);

        _time.Advance(TimeSpan.FromMinutes(1));
        PrimaryStatus status = primary.Status;
        Assert.Equal("Degraded", status.Replication);
        Assert.Equal(1, status.ReconnectAttempts);
        Assert.Contains("fenced", status.Link, StringComparison.Ordinal);
        await guest.RunAsync(primary, 50, queueDepth: 4, _timeout.Token);   // the guest is still served
        Assert.Equal(last, secondary.Status.LastCommittedEpoch);
    }

    /// <summary>
    /// Advances the clock one epoch interval at a time, each time waiting for an acknowledgement (or
    /// the awaited state), so checkpoints are driven by the nodes' progress, not by wall time.
    /// </summary>
    private async Task DriveCheckpointsUntil(PrimaryNode primary, Task until)
    {
        for (int i = 0; i < 10_000 && !until.IsCompleted; i++)
        {
            var acknowledged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            primary.CheckpointCompleted = _ => acknowledged.TrySetResult();
            _time.Advance(EpochInterval);
            await Task.WhenAny(acknowledged.Task, until).WaitAsync(_timeout.Token);
        }

        primary.CheckpointCompleted = null;
        await until.WaitAsync(_timeout.Token);
    }

    /// <summary>Promotes the secondary and checks its image and VM state against the guest's own record of that checkpoint.</summary>
    private async Task AssertFailoverHolds(SecondaryNode secondary, SyntheticGuestRunner guest, long lastAcknowledged)
    {
        long promoted = await secondary.PromoteAsync().WaitAsync(_timeout.Token);
        Assert.True(promoted >= lastAcknowledged, $"promoted to {promoted}, before the last acknowledged {lastAcknowledged}");
        await secondary.Takeover!.Closed.WaitAsync(_timeout.Token); // what follows reads the image file itself
        byte[] primaryImage = await File.ReadAllBytesAsync(Path.Combine(_directory, "primary.img"));
        foreach (IAsyncDisposable disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        _disposables.Clear();
        GuestCheckpoint expected = guest.Guest.ExpectedAt(promoted)!;
        byte[] image = await File.ReadAllBytesAsync(Path.Combine(_directory, "secondary.img"));
        byte[] ram = await File.ReadAllBytesAsync(Path.Combine(_directory, "secondary-state", "ram.img"));
        AppliedCheckpoint applied = AppliedCheckpoint.Read(Path.Combine(_directory, "secondary-state"));
        Assert.Null(expected.Compare(image, ram, applied.CpuState));
        Assert.True(primaryImage.AsSpan().SequenceEqual(image), "the promoted image differs from the primary's (the guest was idle since the last checkpoint)");
        Assert.False(applied.MidResync);
    }

    private static Task<string?> Next(PrimaryNode primary, PrimaryReplication state)
    {
        var seen = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<PrimaryReplication, string?>? before = primary.ReplicationChanged;
        primary.ReplicationChanged = (now, reason) =>
        {
            before?.Invoke(now, reason);
            if (now == state)
            {
                seen.TrySetResult(reason);
            }
        };
        return seen.Task;
    }

    private async Task<SecondaryNode> StartSecondary()
    {
        var node = new SecondaryNode(
            new SecondaryNodeOptions
            {
                ImagePath = Path.Combine(_directory, "secondary.img"),
                StateDirectory = Path.Combine(_directory, "secondary-state"),
                LinkKey = _linkKey,
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                PairId = "pair-1",
                MaxRequestBytes = 64 * 1024,
                BufferCapacityBytes = 1 << 20,
                RamBytes = RamPages * PageSize,
                PageSize = PageSize,
            },
            NullLogger<SecondaryNode>.Instance,
            _time);
        _disposables.Add(node);
        await node.StartAsync(CancellationToken.None);
        return node;
    }

    private async Task<PrimaryNode> StartPrimary(IPEndPoint peer, SyntheticGuestRunner guest)
    {
        var node = new PrimaryNode(
            new PrimaryNodeOptions
            {
                // Both images start as the same bytes.
                SkipInitialSync = true,
                ImagePath = Path.Combine(_directory, "primary.img"),
                StateDirectory = Path.Combine(_directory, "primary-state"),
                LinkKey = _linkKey,
                Peer = peer,
                PairId = "pair-1",
                MaxRequestBytes = 64 * 1024,
                RamBytes = RamPages * PageSize,
                PageSize = PageSize,
                EpochInterval = EpochInterval,
                ReconnectDelay = ReconnectDelay,
            },
            guest,
            NullLogger<PrimaryNode>.Instance,
            _time);
        await node.StartAsync(CancellationToken.None);
        _disposables.Insert(0, node);
        return node;
    }

    private static SyntheticGuestRunner NewGuest(int seed) => new(new SyntheticGuest(new SyntheticGuestOptions
    {
        Seed = seed, DiskBytes = DiskBytes, RamPages = RamPages, PageSize = PageSize, MaxWriteBytes = 64 * 1024,
    }));
}
