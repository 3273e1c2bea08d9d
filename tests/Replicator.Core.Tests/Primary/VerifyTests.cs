using System.IO.Hashing;
using NSubstitute;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;
using Replicator.Core.Tests.Support;
using Replicator.Core.Vm;
using static Replicator.Core.Tests.Support.Records;

namespace Replicator.Core.Tests.Primary;

/// <summary>The primary's side of online verify and repair: what it reads, in which order, and what it sends.</summary>
public class VerifyTests
{
    private readonly IPrimaryActions _actions = Substitute.For<IPrimaryActions>();
    private readonly List<MirrorRecord> _sent = new();
    private readonly PrimaryEngine _primary;

    public VerifyTests()
    {
        _primary = new PrimaryEngine(new PrimaryOptions { Geometry = Geometry, SecondaryBufferBytes = 4 << 20, DirtyRegionBytes = 64 * 1024, MaxResyncReadsInFlight = 2 }, _actions);

        // The payload is lent for the call: keep a copy, as the link does.
        _actions.When(a => a.SendMirror(Arg.Any<MirrorRecord>())).Do(call =>
        {
            var record = (MirrorRecord)call[0];
            _sent.Add(record with { Payload = record.Payload.ToArray() });
        });
    }

    private List<(long Id, long Offset, int Length)> Reads() => _actions.ReceivedCalls()
        .Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.ReadForResync))
        .Select(c => ((long)c.GetArguments()[0]!, (long)c.GetArguments()[1]!, (int)c.GetArguments()[2]!)).ToList();

    private List<long> Issued() => _actions.ReceivedCalls()
        .Where(c => c.GetMethodInfo().Name == nameof(IPrimaryActions.IssueLocal))
        .Select(c => (long)c.GetArguments()[0]!).ToList();

    [Fact]
    public void A_verify_reads_the_whole_image_and_sends_the_hash_of_each_block_as_read_in_sequence()
    {
        Assert.Null(_primary.BeginVerify());
        var data = new Dictionary<long, byte[]>();
        while (_primary.IsVerifying)
        {
            foreach ((long id, long offset, int length) in Reads().Where(r => !data.ContainsKey(r.Offset)).ToList())
            {
                data[offset] = Filled(length, (byte)(offset >> 16));
                _primary.OnResyncReadCompleted(id, true, data[offset]);
            }

            if (_primary.Phase == PrimaryPhase.Capturing)
            {
                _primary.OnVmCaptured(_primary.LastCheckpointStarted, new VmSnapshot(_primary.LastCheckpointStarted, [], []));
            }
        }

        List<MirrorRecord> verifies = _sent.Where(r => r.Request.Op == BlockOp.Verify).ToList();
        Assert.Equal(Geometry.DiskBytes, verifies.Sum(r => (long)r.Request.Length));
        Assert.Equal(verifies.Count, _primary.VerifyRecordsSent);
        foreach (MirrorRecord record in verifies)
        {
            // Independently: XxHash128 of each 64 KiB block of what the read returned.
            byte[] read = data[record.Request.Offset];
            byte[] expected = Enumerable.Range(0, read.Length / VerifyBlocks.BlockBytes)
                .SelectMany(b => XxHash128.Hash(read.AsSpan(b * VerifyBlocks.BlockBytes, VerifyBlocks.BlockBytes))).ToArray();
            Assert.Equal(expected, record.Payload.ToArray());
        }

        // Sequence numbers follow on, and the last read closed its epoch.
        Assert.Equal(verifies.Select(r => r.Sequence).Order(), verifies.Select(r => r.Sequence));
        Assert.Contains(_actions.Checkpoints(), c => c.Epoch == verifies[^1].Epoch);
    }

    [Fact]
    public void A_verify_read_sees_an_earlier_overlapping_write_and_a_later_one_waits_for_it()
    {
        _primary.Submit(1, BlockRequest.Write(4096, 4096), Filled(4096, 1));   // in flight, before the verify
        Assert.Null(_primary.BeginVerify());
        Assert.DoesNotContain(Reads(), r => r.Offset == 0);                     // waits for write 1

        _primary.OnLocalCompleted(1, true);
        (long readId, _, _) = Assert.Single(Reads(), r => r.Offset == 0);

        _primary.Submit(2, BlockRequest.Write(8192, 4096), Filled(4096, 2));   // after the read: waits for it
        Assert.DoesNotContain(2L, Issued());
        _primary.OnResyncReadCompleted(readId, true, Filled(Reads().Single(r => r.Id == readId).Length, 0));
        Assert.Contains(2L, Issued());

        MirrorRecord write1 = _sent.Single(r => r.Request.Op == BlockOp.Write && r.Request.Offset == 4096);
        MirrorRecord verify = _sent.Single(r => r.Request.Op == BlockOp.Verify && r.Request.Offset == 0);
        Assert.True(write1.Sequence < verify.Sequence);
    }

    [Fact]
    public void Only_a_protected_pair_verifies_and_a_lost_link_stops_it()
    {
        Assert.Null(_primary.BeginVerify());
        Assert.Equal("a verify or repair is already running", _primary.BeginVerify());

        _primary.OnSecondaryLost("cable pulled");
        Assert.Contains("not protected", _primary.BeginVerify(), StringComparison.Ordinal);
        int reads = Reads().Count;
        foreach ((long id, _, int length) in Reads())
        {
            _primary.OnResyncReadCompleted(id, true, Filled(length, 0));
        }

        Assert.Equal(reads, Reads().Count);
        Assert.DoesNotContain(_sent, r => r.Request.Op == BlockOp.Verify);
        Assert.False(_primary.IsVerifying);
    }

    [Fact]
    public void A_repair_copies_the_regions_of_the_diverged_blocks_while_protected_and_says_in_which_epoch()
    {
        Assert.Null(_primary.BeginRepair([128 * 1024, 640 * 1024]));

        List<(long Id, long Offset, int Length)> reads = Reads();
        Assert.Equal([(128L * 1024, 64 * 1024), (640L * 1024, 64 * 1024)], reads.Select(r => (r.Offset, r.Length)));
        foreach ((long id, _, int length) in reads)
        {
            _primary.OnResyncReadCompleted(id, true, Filled(length, 9));
        }

        Assert.Equal(2, _sent.Count(r => r.Request.Op == BlockOp.Write && r.Payload.Span[0] == 9));
        Assert.False(_primary.IsRepairing);
        Assert.Equal(_sent[^1].Epoch, _primary.RepairedThroughEpoch);
        Assert.Equal(PrimaryReplication.Protected, _primary.Replication);
    }
}
