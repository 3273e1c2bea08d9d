using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using Replicator.Core.Vm;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>A whole-image sync that compares checksums first: only what differs is copied, and nothing compared equal is forgotten.</summary>
public class ChecksumSyncTests
{
    private const int Region = 64 * 1024;
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();
    private readonly List<MirrorRecord> _sent = new();
    private readonly HashSet<long> _readsDone = new();
    private readonly PrimaryEngine _primary;

    public ChecksumSyncTests()
    {
        _primary = new PrimaryEngine(
            new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 4 << 20, DirtyRegionBytes = Region, MaxResyncReadsInFlight = 64, ChecksumWholeImageSync = true, StartsDegradedBecause = "no secondary yet", KnowsChangesSinceFirstEpoch = false },
            _actions);
        _actions.When(a => a.SendMirror(Arg.Any<MirrorRecord>())).Do(call =>
        {
            var record = (MirrorRecord)call[0];
            _sent.Add(record with { Payload = record.Payload.ToArray() });
        });
    }

    [Fact]
    public void Only_the_regions_whose_checksums_differ_are_copied_and_the_pair_is_protected_after_the_last_answer()
    {
        Assert.Null(_primary.BeginResync(0, 0, 4 << 20, ResyncScope.WholeImage));
        Settle();
        List<MirrorRecord> compared = _sent.Where(r => r.Request.Op == BlockOp.Verify).ToList();
        Assert.Equal(Geometry.DiskBytes, compared.Sum(r => (long)r.Request.Length));
        Assert.DoesNotContain(_sent, r => r.Request.Op == BlockOp.Write);

        // The secondary answers: one block of region 3 differs.
        foreach (MirrorRecord record in compared)
        {
            long[] diverged = record.Request.Offset <= 3 * Region && 3 * Region < record.Request.End ? [(3 * Region) + VerifyBlocks.BlockBytes - VerifyBlocks.BlockBytes] : [];
            Assert.True(_primary.OnChecksumResult(record.Request.Offset, record.Request.Length, diverged));
        }

        Assert.False(_primary.OnChecksumResult(0, 4096, []));  // no such comparison was asked for
        Settle();
        MirrorRecord copy = Assert.Single(_sent, r => r.Request.Op == BlockOp.Write);
        Assert.Equal(BlockRequest.Write(3 * Region, Region), copy.Request);

        AcknowledgeEverything();
        Assert.Equal(PrimaryReplication.Protected, _primary.Replication);
        Assert.Equal(0, _primary.ResyncBytesLeft);
    }

    [Fact]
    public void A_region_written_after_its_comparison_stays_dirty_until_that_write_is_acknowledged()
    {
        Assert.Null(_primary.BeginResync(0, 0, 4 << 20, ResyncScope.WholeImage));
        Settle();
        MirrorRecord region5 = _sent.Single(r => r.Request.Op == BlockOp.Verify && r.Request.Offset <= 5 * Region && 5 * Region < r.Request.End);

        // Between the comparison and its answer the guest writes region 5, in a later epoch.
        _primary.Submit(1, BlockRequest.Write(5 * Region, 4096), Filled(4096, 7));
        _primary.OnLocalCompleted(1, true);
        long writeEpoch = _sent.Single(r => r.Request.Op == BlockOp.Write).Epoch;
        Assert.True(writeEpoch > region5.Epoch);
        foreach (MirrorRecord record in _sent.Where(r => r.Request.Op == BlockOp.Verify))
        {
            _primary.OnChecksumResult(record.Request.Offset, record.Request.Length, []);
        }

        // The link is lost with only the comparison's epoch acknowledged: the next resync must copy region 5.
        _primary.OnCheckpointAcknowledged(region5.Epoch);
        _primary.OnSecondaryLost("cable pulled");
        _actions.ClearReceivedCalls();
        Assert.Null(_primary.BeginResync(region5.Epoch, region5.Sequence, 4 << 20));
        Settle();
        var plan = (ResyncPlan)Assert.Single(_actions.ReceivedCalls(), c => c.GetMethodInfo().Name == nameof(IPrimaryActions.SendResyncStart)).GetArguments()[0]!;
        Assert.False(plan.WholeImage);
        Assert.True(plan.Bytes >= Region, $"the resync copies {plan.Bytes} bytes: region 5 was forgotten");
    }

    /// <summary>Completes every read asked for and every capture the engine waits for, until it runs again.</summary>
    private void Settle()
    {
        for (int round = 0; round < 20; round++)
        {
            CompleteReads();
            if (_primary.Phase != PrimaryPhase.Capturing)
            {
                return;
            }

            _primary.OnVmCaptured(_primary.LastCheckpointStarted, new VmSnapshot(_primary.LastCheckpointStarted, [], []));
        }
    }

    private void CompleteReads()
    {
        foreach (var call in _actions.ReceivedCalls().Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.ReadForResync)).ToList())
        {
            long id = (long)call.GetArguments()[0]!;
            if (_readsDone.Add(id))
            {
                _primary.OnResyncReadCompleted(id, true, Filled((int)call.GetArguments()[2]!, 1));
            }
        }
    }

    private void CloseEpoch()
    {
        _primary.RequestCheckpoint(CheckpointTrigger.Explicit);
        Settle();
    }

    private void AcknowledgeEverything()
    {
        for (int round = 0; round < 10 && _primary.Replication != PrimaryReplication.Protected; round++)
        {
            CloseEpoch();
            if (_actions.Checkpoints() is { Count: > 0 } sent)
            {
                _primary.OnCheckpointAcknowledged(sent[^1].Epoch);
            }
        }
    }
}
