using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.Hosts.Tests.Support;
using Replicator.InMemory;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Tests;

/// <summary>
/// The secondary host between its engine and its storage: journal → acknowledgement → apply,
/// credit back to the primary that spent it, and what a failed journal or image does.
/// </summary>
public class SecondaryHostStorageTests
{
    [Fact]
    public void An_epoch_is_acknowledged_and_its_credit_returned_once_journalled_before_it_is_written_back()
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();

        pair.SendEpoch(link, 1, 1);
        pair.RunStorage(1); // the journal append
        Assert.Equal([1L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        Assert.Equal([RecordCost(1)], pair.SentOf<CreditMessage>(link).Select(c => c.Bytes));
        Assert.Equal(0, pair.Host.Engine!.LastAppliedEpoch);
        Assert.Equal(RecordCost(1), pair.Host.Engine.WritebackBacklogBytes);
        Assert.Equal(0, pair.Host.Engine.CreditHeldBytes);

        pair.RunStorage();
        pair.SendEpoch(link, 2, 2);
        pair.RunStorage();

        Assert.Equal([1L, 2L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        Assert.Equal([RecordCost(1), RecordCost(2)], pair.SentOf<CreditMessage>(link).Select(c => c.Bytes));
        Assert.Equal(2, pair.Host.Engine.LastAppliedEpoch);
        Assert.Equal(0, pair.Host.Engine.WritebackBacklogBytes);
    }

    [Fact]
    public void An_epoch_whose_pages_take_the_write_back_beyond_its_bound_is_acknowledged_after_the_write_back_and_status_says_so()
    {
        var pair = new SecondaryHarness(writebackBytes: 4096);
        LinkId link = pair.Connect();

        pair.SendEpoch(link, 1, 1, pages: 2);
        pair.RunStorage(1); // the journal append: committed, its pages beyond the bound
        SecondaryStatus held = pair.Host.Status;
        Assert.Empty(pair.SentOf<AckMessage>(link));
        Assert.Equal(RecordCost(1) + (2 * 4096), held.WritebackBacklogBytes);
        Assert.StartsWith("epoch 1 waits for the write-back", held.AcknowledgementHeld, StringComparison.Ordinal);

        pair.RunStorage(); // the write-back
        Assert.Equal([1L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        Assert.Equal((0L, (string?)null), (pair.Host.Status.WritebackBacklogBytes, pair.Host.Status.AcknowledgementHeld));
    }

    [Fact]
    public void Each_record_of_the_next_epoch_is_written_ahead_on_the_journal_lane_and_its_commit_takes_it()
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();

        pair.SendEpoch(link, 1, 1);
        pair.RunStorage();
        pair.SendEpoch(link, 2, 2);
        pair.RunStorage();

        Assert.Equal([(1L, SecondaryStorageLane.Journal), (2L, SecondaryStorageLane.Journal)], pair.Staged.Select(op => (op.Record.Sequence, op.Lane)));
        Assert.NotEqual(pair.Staged[0].Number, pair.Staged[1].Number); // each epoch log's own incarnation
        // With the hash the engine computed as the record arrived: the journal's checksum takes it in place of the payload.
        Assert.All(pair.Staged, op => Assert.Equal(EpochDigest.RecordHash(op.Record), op.RecordHash));
        Assert.Equal((2L, 2L), (pair.Host.Store!.Journal.RecordsStaged, pair.Host.Store.Journal.CommitsStaged));
        Assert.Equal([1L, 2L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
    }

    [Fact]
    public void Without_a_write_back_bound_an_epoch_s_credit_waits_for_its_write_back()
    {
        var pair = new SecondaryHarness(writebackBytes: 0);
        LinkId link = pair.Connect();

        pair.SendEpoch(link, 1, 1);
        pair.RunStorage(1); // the journal append
        Assert.Equal([1L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        Assert.Empty(pair.SentOf<CreditMessage>(link));
        Assert.Equal(RecordCost(1), pair.Host.Engine!.CreditHeldBytes);

        pair.RunStorage();
        Assert.Equal([RecordCost(1)], pair.SentOf<CreditMessage>(link).Select(c => c.Bytes));
        Assert.Equal(0, pair.Host.Engine.CreditHeldBytes);
    }

    [Fact]
    public void Credit_beyond_the_write_back_bound_comes_back_as_the_backlog_drains()
    {
        // Room for one record's backlog: the second epoch's credit waits for the first one's write-back.
        var pair = new SecondaryHarness(writebackBytes: RecordCost(1));
        LinkId link = pair.Connect();
        pair.SendEpoch(link, 1, 1);
        pair.SendEpoch(link, 2, 2);

        pair.RunStorage(2); // both journal appends: epoch 1's write-back is queued behind them
        Assert.Equal([1L, 2L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        Assert.Equal([RecordCost(1)], pair.SentOf<CreditMessage>(link).Select(c => c.Bytes));
        Assert.Equal(RecordCost(1) + RecordCost(2), pair.Host.Engine!.WritebackBacklogBytes);
        Assert.Equal(RecordCost(2), pair.Host.Engine.CreditHeldBytes);

        pair.RunStorage();
        Assert.Equal([RecordCost(1), RecordCost(2)], pair.SentOf<CreditMessage>(link).Select(c => c.Bytes));
        Assert.Equal(0, pair.Host.Engine.CreditHeldBytes);
        Assert.Equal(2, pair.Host.Engine.LastAppliedEpoch);
    }

    [Fact]
    public void A_new_primary_gets_back_no_more_credit_than_it_spent_while_the_last_session_s_epochs_drain()
    {
        var pair = new SecondaryHarness();
        LinkId first = pair.Connect();
        pair.SendEpoch(first, 1, 1);
        pair.RunStorage(1); // journalled; its apply waits
        pair.Host.OnLinkClosed(first, "cable pulled");
        LinkId second = pair.Connect();
        pair.SendEpoch(second, 2, 2);

        pair.RunStorage();

        Assert.Equal(RecordCost(2), pair.SentOf<CreditMessage>(second).Sum(c => c.Bytes));
        Assert.Equal(2, pair.Host.Engine!.LastAppliedEpoch);
    }

    [Fact]
    public void An_epoch_that_does_not_verify_is_rejected_to_the_primary_with_the_reason()
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();
        var record = new MirrorRecord(1, 1, BlockRequest.Write(0, 4096), new byte[4096]);
        var snapshot = new VmSnapshot(1, [], []);
        pair.Host.OnInput(link, new SecondaryInput(SecondaryInputKind.Mirror, record));

        pair.Host.OnInput(link, SecondaryHarness.Checkpoint(new CheckpointRecord(1, 1, 1, Digest: 12345, snapshot, snapshot.ComputeDigest())));

        RejectMessage reject = Assert.Single(pair.SentOf<RejectMessage>(link));
        Assert.Equal(1, reject.Epoch);
        Assert.Contains("digest", reject.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.Equal([$"epoch 1 refused: {reject.Reason}"], pair.Logged("refused"));
        Assert.Empty(pair.SentOf<AckMessage>(link));
        Assert.Equal(0, pair.PendingStorage);
    }

    [Fact]
    public void A_failed_journal_append_is_never_acknowledged_the_primary_is_told_and_a_waiting_welcome_answered()
    {
        var faults = new FailingWrites();
        var pair = new SecondaryHarness(faults: faults);
        LinkId first = pair.Connect();
        pair.SendEpoch(first, 1, 1);
        pair.Host.OnLinkClosed(first, "cable pulled");
        LinkId second = pair.Connect(); // its welcome waits for epoch 1's append
        Assert.Empty(pair.SentOf<WelcomeMessage>(second));
        faults.FailFrom = EpochJournal.FileName;

        pair.RunStorage();

        Assert.Empty(pair.Sent.Select(s => s.Message).OfType<AckMessage>());
        WelcomeMessage welcome = Assert.Single(pair.SentOf<WelcomeMessage>(second));
        Assert.Equal(0, welcome.LastCommittedEpoch);
        Assert.Contains("journal write failed", pair.Host.Engine!.StallReason, StringComparison.Ordinal);
        Assert.Empty(pair.Halted);
    }

    [Fact]
    public void An_image_that_fails_under_a_committed_epoch_stops_the_node_naming_it_and_the_epoch_stays_journalled()
    {
        var faults = new FailingWrites();
        var pair = new SecondaryHarness(faults: faults);
        LinkId link = pair.Connect();
        faults.FailFrom = "disk.img";
        pair.SendEpoch(link, 1, 1);

        pair.RunStorage();

        Assert.Equal([1L], pair.SentOf<AckMessage>(link).Select(a => a.Epoch));
        string halted = Assert.Single(pair.Halted);
        Assert.StartsWith("applying epoch 1 to disk.img failed: writing disk.img: no space left on device", halted, StringComparison.Ordinal);
        Assert.Equal([$"storage failed: {halted}"], pair.Logged("storage failed"));
        Assert.Equal(0, pair.Host.Engine!.LastAppliedEpoch);
        Assert.Equal(0, new NodeStateStore(pair.Directory).Load()!.AppliedEpoch);
        Assert.Contains(pair.Host.Store!.Journal.EntriesHeld(), e => e.Epoch == 1);
    }

    [Fact]
    public void An_acknowledgement_carries_the_journal_s_phases_and_the_last_apply_as_measured()
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();
        pair.SendEpoch(link, 1, 1);
        pair.RunStorage();
        // Each reading of the clock from here on is a millisecond after the one before.
        pair.Time.AutoAdvanceAmount = TimeSpan.FromMilliseconds(1);
        pair.SendEpoch(link, 2, 2);

        pair.RunStorage(1);

        AckTimings timings = pair.SentOf<AckMessage>(link).Last().Timings!;
        Assert.True(timings.JournalWriteMicroseconds > 0 && timings.JournalFlushMicroseconds > 0, $"journal {timings.JournalWriteMicroseconds} + {timings.JournalFlushMicroseconds} µs");
        Assert.True(timings.QueueMicroseconds > 0, $"queue {timings.QueueMicroseconds} µs");
        Assert.Equal(1, timings.AppliedEpoch);
    }

    [Fact]
    public void A_resync_and_a_sync_are_reported_complete_once_when_the_epoch_that_completes_them_is_journalled_and_applied()
    {
        var pair = new SecondaryHarness();
        DataGenerations moved = SecondaryHarness.PrimaryGenerations.Begin(new GenerationMark { Id = 0xc33, Cause = GenerationCause.UnprotectedWriting });
        LinkId link = pair.Connect(generations: moved);
        pair.Host.OnInput(link, SecondaryHarness.ResyncStart(baseEpoch: 0, firstEpoch: 1, firstSequence: 1, moved, wholeImage: false));
        pair.SendEpoch(link, 1, 1, resyncPending: true, startsResync: true);
        pair.RunStorage();
        Assert.Empty(pair.Logged("resync complete").Concat(pair.Logged("sync complete at")));

        pair.SendEpoch(link, 2, 2);
        pair.RunStorage(1); // the journal append of the epoch that ends the resync
        Assert.Equal(["resync complete: the image holds checkpoint 2, equal to the primary's"], pair.Logged("resync complete"));
        Assert.Empty(pair.Logged("sync complete at"));
        pair.RunStorage();
        pair.SendEpoch(link, 3, 3);
        pair.RunStorage();

        Assert.Single(pair.Logged("resync complete"));
        Assert.StartsWith("sync complete at epoch 2: the image holds the primary's data, ", Assert.Single(pair.Logged("sync complete at")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_verify_result_goes_to_the_primary_that_asked_and_to_nobody_once_it_left(bool stays)
    {
        var pair = new SecondaryHarness();
        LinkId link = pair.Connect();
        byte[] data = Enumerable.Repeat((byte)0x5A, 8192).ToArray();
        byte[] hashes = new byte[VerifyBlocks.PayloadLength(data.Length)];
        VerifyBlocks.Hash(data, hashes);
        var write = new MirrorRecord(1, 1, BlockRequest.Write(0, data.Length), data);
        var verify = new MirrorRecord(1, 2, new BlockRequest(BlockOp.Verify, 0, data.Length), hashes);
        var digest = default(EpochDigest);
        digest.Add(write);
        digest.Add(verify);
        var snapshot = new VmSnapshot(1, [], []);
        pair.Host.OnInput(link, new SecondaryInput(SecondaryInputKind.Mirror, write));
        pair.Host.OnInput(link, new SecondaryInput(SecondaryInputKind.Mirror, verify));
        pair.Host.OnInput(link, SecondaryHarness.Checkpoint(new CheckpointRecord(1, 1, 2, digest.Value, snapshot, snapshot.ComputeDigest())));
        if (!stays)
        {
            pair.Host.OnLinkClosed(link, "cable pulled");
        }

        pair.RunStorage();

        Assert.Equal(1, pair.Host.Engine!.LastAppliedEpoch);
        VerifyResultMessage[] results = pair.Sent.Select(s => s.Message).OfType<VerifyResultMessage>().ToArray();
        if (stays)
        {
            VerifyResultMessage result = Assert.Single(pair.SentOf<VerifyResultMessage>(link));
            Assert.Equal((1L, 2L, 0L, data.Length), (result.Epoch, result.Sequence, result.Offset, result.Length));
            Assert.Empty(result.Diverged);
        }
        else
        {
            Assert.Empty(results);
        }
    }

    /// <summary>What a harness epoch's one 4 KiB write costs the primary in credit.</summary>
    private static long RecordCost(long epoch) =>
        new MirrorRecord(epoch, epoch, BlockRequest.Write(0, 4096), new byte[4096]).BufferCost;
}
