using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Hosts.Secondary;
using Replicator.Hosts.Storage;
using Replicator.InMemory;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Storage;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The storage lanes on the simulated disks, and the node's life: power cuts (at a random moment or
/// inside a chosen storage step), kills, restarts. Each operation runs the host's real storage code
/// when its modelled time has passed; what the checkers need is observed around it.
/// </summary>
internal sealed partial class SecondaryShell
{
    private readonly Queue<SecondaryStorageOperation> _journalLane = new();
    private readonly Queue<SecondaryStorageOperation> _applyLane = new();
    private readonly bool[] _laneBusy = new bool[2];

    // Journal appends asked for and not yet finished: while one is, what the node holds can still change.
    private int _journalAppendsUnfinished;

    // The checkers' model of what is committed: each epoch's records as the primary recorded them
    // (for the apply history, I4) and the committed VM state (for I1).
    private readonly Dictionary<long, List<MirrorRecord>> _applyRecords = new();
    private (long Epoch, int Index) _historyCursor;
    private VmState? _committedVm;
    private byte[]? _committedDisk;

    private SecondaryCutPoint? _cutWhen;
    private long _restartAfter;
    private long _recoveringTo = -1;
    private bool _recoveringMidResync;
    private ulong _imageHashAtPromotion;
    private int _switchesBefore;
    private bool _resetAtNextAppend;
    private long? _damageAtResyncStart;

    /// <summary>How often the journal was compacted in this run, over every incarnation.</summary>
    public int JournalSwitches => _switchesBefore + (Down ? 0 : Host.Store?.Journal.Switches ?? 0);

    private long _commitsStagedBefore;

    /// <summary>Commits that found their records written ahead, over every incarnation.</summary>
    public long JournalCommitsStaged => _commitsStagedBefore + (Down ? 0 : Host.Store?.Journal.CommitsStaged ?? 0);

    /// <summary>When promotion completed, the checkpoint the promoted node holds; -1 before.</summary>
    public long PromotedEpoch { get; private set; } = -1;

    // Whether the image was compared, once the takeover's drain ended, with what the node served.
    private bool _takeoverDrainChecked;

    private SimPowerSwitch Power => _imageFaults.Power;

    public void PowerCutAt(SecondaryCutPoint point, long restartAfter)
    {
        _restartAfter = restartAfter;
        if (point == SecondaryCutPoint.Anywhere)
        {
            PowerCut();
            return;
        }

        _cutWhen = point;
        _world.Clock.After(5 * _world.Scenario.EpochUs, () =>
        {
            if (_cutWhen is not null)
            {
                _cutWhen = null;
                PowerCut();
            }
        });
    }

    /// <summary>
    /// The host loses power: the disks keep a legal subset of their caches (names as last synced),
    /// RAM is gone, the link goes silent. I4: the image must be a legal crash state of the committed history.
    /// </summary>
    public void PowerCut()
    {
        if (Down)
        {
            return;
        }

        _world.Trace.Event("secondary power cut", Engine.LastCommittedEpoch, Engine.LastAppliedEpoch);
        GoDown();
        Power.TurnOff();
        Image.PowerCut(_world.Random.PowerCuts);
        StateDirectory.PowerCut(_world.Random.PowerCuts);
        if (IsPromoted)
        {
            // A promoted node's image is the new primary's data: promotion must have made it durable.
            CheckUnchangedSincePromotion();
        }
        else
        {
            _world.Checker.SecondaryImageAfterPowerCut(Image.Contents);
            _world.Checker.RebaseHistory(Image.Contents);
        }

        _world.Clock.After(_restartAfter, Restart);
    }

    /// <summary>
    /// The process is stopped for good and its storage handed on (the failback runs a primary over
    /// it): its sockets close, nothing of it runs again.
    /// </summary>
    public void Retire()
    {
        _retired = true;
        foreach (var connection in _links.Keys.ToList())
        {
            _world.Network.Close(connection, "the node's secondary stopped: it serves as a primary", this);
        }

        if (!Down)
        {
            GoDown();
        }

        // The host is up (again, after a power cut): the primary that runs on it next reads this storage.
        Power.TurnOn();
    }

    private bool _retired;

    /// <summary>The daemon's process is killed: its sockets close, the disks keep their caches, it is restarted after <paramref name="restartAfter"/>.</summary>
    public void Kill(long restartAfter) => FailStop("the process was killed", restartAfter);

    /// <summary>The daemon stops (as the real one exits on a storage failure): its sockets close; the disks keep their caches.</summary>
    private void FailStop(string reason, long? restartAfter = null)
    {
        if (Down)
        {
            return;
        }

        _world.Trace.Event("secondary failed", Engine.LastCommittedEpoch);
        _world.Trace.Note(() => $"secondary stopped: {reason}");
        foreach (var connection in _links.Keys.ToList())
        {
            _world.Network.Close(connection, $"the secondary stopped: {reason}", this);
        }

        GoDown();
        _world.Clock.After(restartAfter ?? _world.Random.Faults.Next(1, 20) * 1000L, Restart);
    }

    private void GoDown()
    {
        _switchesBefore += Host.Store?.Journal.Switches ?? 0;
        _commitsStagedBefore += Host.Store?.Journal.CommitsStaged ?? 0;
        _pause.Clear();
        Down = true;
        _incarnation++;
        _links.Clear();
        _senders.Clear();
        _journalLane.Clear();
        _applyLane.Clear();
        _laneBusy[0] = _laneBusy[1] = false;
        _journalAppendsUnfinished = 0;
        _applyRecords.Clear();
        _recoveringTo = -1;
        Host.Store?.Dispose();
    }

    /// <summary>
    /// Starts again from the state record and the journal, as the daemon does: epochs whole in the
    /// journal are committed and are applied again. Storage that cannot be read is retried.
    /// </summary>
    public void Restart()
    {
        if (!Down || _retired)
        {
            return;
        }

        Down = false;
        Power.TurnOn();
        _incarnation++;
        Host = NewHost();
        if (!StartHost())
        {
            return;
        }

        _world.Trace.Event("secondary restarted", Engine.LastAppliedEpoch, _recoveringTo);
        CheckRecovered();
        int incarnation = _incarnation;
        _world.Clock.After(_world.Scenario.HeartbeatUs, () => HeartbeatTick(incarnation));
    }

    /// <summary>Recovery by the host; false (and down again, a retry due) when its storage could not be read.</summary>
    private bool StartHost()
    {
        try
        {
            Host.Start(new MemoryBlockDevice("secondary.img", Image, _imageFaults), StateDirectory);
        }
        catch (IOException e)
        {
            _world.Trace.Event("secondary restart failed");
            _world.Trace.Note(() => $"secondary could not start: {e.Message}");
            GoDown();
            _world.Clock.After(5_000, Restart);
            return false;
        }
        catch (InvalidDataException e)
        {
            CheckRefusal(e);
            _world.Trace.Note(() => $"secondary refused its storage: {e.Message}");
            _world.SecondaryRefusedToStart(e.Message);
            GoDown();
            return false;
        }

        SecondaryStore store = Host.Store!;

        // Whatever damage there was, this start got past it: a later refusal must explain itself anew.
        _damage = null;
        if (Engine.LastCommittedEpoch < DurableCommittedEpoch)
        {
            // Every append whose flush completed was a commit, acknowledged or about to be: a
            // restart that comes back with less has lost it (damage read as a torn append, say).
            _world.Checker.Fail($"I2: the secondary restarted holding checkpoint {Engine.LastCommittedEpoch}, but had made checkpoint {DurableCommittedEpoch} durable");
        }

        JournalFailed = false;
        _historyCursor = default;
        _committedVm = VmOnDisk(store);
        foreach (JournalEntry entry in store.Unapplied)
        {
            _applyRecords[entry.Checkpoint.Epoch] = entry.Records.ToList();
            _committedVm.Apply(entry.Checkpoint.Snapshot);
        }

        DurableCommittedEpoch = Math.Max(DurableCommittedEpoch, Engine.LastCommittedEpoch);
        _recoveringTo = Engine.LastCommittedEpoch;
        _recoveringMidResync = Engine.CommittedMidResync;
        return true;
    }

    /// <summary>The network resets this node's connections as its next journal append begins.</summary>
    public void ResetLinksAtNextAppend() => _resetAtNextAppend = true;

    private void Enqueue(in SecondaryStorageOperation op)
    {
        if (_resetAtNextAppend && op.Kind == SecondaryStorageKind.Persist)
        {
            _resetAtNextAppend = false;
            foreach (SimConnection connection in _links.Keys.ToList())
            {
                _world.Network.Close(connection, "connection reset by the network");
            }
        }

        _journalAppendsUnfinished += op.Kind == SecondaryStorageKind.Persist ? 1 : 0;
        (op.Lane == SecondaryStorageLane.Journal ? _journalLane : _applyLane).Enqueue(op);
        if (!_laneBusy[(int)op.Lane])
        {
            StartNext(op.Lane);
        }
    }

    /// <summary>The lane's next operation runs once its modelled time has passed (a power cut before then: it never happened).</summary>
    private void StartNext(SecondaryStorageLane lane)
    {
        Queue<SecondaryStorageOperation> queue = lane == SecondaryStorageLane.Journal ? _journalLane : _applyLane;
        if (!queue.TryDequeue(out SecondaryStorageOperation op))
        {
            _laneBusy[(int)lane] = false;
            return;
        }

        _laneBusy[(int)lane] = true;
        int incarnation = _incarnation;
        long latency = ModelledUs(op);
        SecondaryCutPoint? cut = CutPointOf(op);
        if (cut is not null && _cutWhen == cut)
        {
            // Inside this very operation: the power goes after a random number of its storage calls.
            _cutWhen = null;
            _world.Clock.After(_world.Random.Faults.NextInt64(latency + 1), () =>
            {
                // A node promoted meanwhile runs no secondary storage steps for the cut to land in.
                bool cutInside = !IsPromoted;
                if (cutInside)
                {
                    Power.ArmAfter(_world.Random.Faults.Next(1, 24));
                }

                Execute(op, incarnation, cutInside);
            });
            return;
        }

        _world.Clock.After(latency, () => Execute(op, incarnation, cutInside: false));
    }

    private void Execute(SecondaryStorageOperation op, int incarnation, bool cutInside)
    {
        if (incarnation != _incarnation || Down)
        {
            return;
        }

        if (_pause.IsPaused)
        {
            // The process's own storage threads are stopped with it.
            _pause.Run(() => Execute(op, incarnation, cutInside));
            return;
        }

        List<MirrorRecord>? records = op.Kind == SecondaryStorageKind.Persist ? CopyRecords(op.Epoch!) : null;
        if (cutInside && op.Kind == SecondaryStorageKind.WriteImage)
        {
            // The power may go while the write is under way: it was issued, so a crash state may
            // hold any of its sectors, or none — even a FUA write, which is durable only once it completes.
            RecordAppliedThrough(op.Record.Epoch, op.Record.Sequence, lastCompleted: false);
        }

        SecondaryStorageCompletion completion;
        try
        {
            completion = Host.Storage.Run(op);
        }
        catch (SimPowerCutException)
        {
            PowerCut();
            return;
        }

        _journalAppendsUnfinished -= op.Kind == SecondaryStorageKind.Persist ? 1 : 0;

        if (cutInside)
        {
            // The operation finished before the armed call came: the power goes right after it.
            Power.Disarm();
            PowerCut();
            return;
        }

        _world.Trace.Note(() => $"secondary storage: {op.Kind} of epoch {op.EpochNumber}: {completion.Result} {completion.Reason}");
        Observe(op, completion, records);
        if (!Down && incarnation == _incarnation)
        {
            StartNext(op.Lane);
        }
    }

    /// <summary>The host gets the completion; the checkers see what it means.</summary>
    private void Observe(in SecondaryStorageOperation op, in SecondaryStorageCompletion completion, List<MirrorRecord>? records)
    {
        bool done = completion.Result == SecondaryStorageResult.Done;
        if (op.Kind == SecondaryStorageKind.Persist && done)
        {
            CheckpointRecord checkpoint = op.Epoch!.Checkpoint!;
            _applyRecords[checkpoint.Epoch] = records!;
            DurableCommittedEpoch = Math.Max(DurableCommittedEpoch, checkpoint.Epoch);
            _committedVm!.Apply(checkpoint.Snapshot);
            Host.OnStorageCompleted(completion);
            _world.Checker.Committed(checkpoint, records!, CommittedDisk(), _committedVm);
            if (_damageAtResyncStart is { } restartAfter && checkpoint.StartsResync)
            {
                _damageAtResyncStart = null;
                _world.Clock.After(0, () => DamageJournal(restartAfter, beforeNewest: true));
            }

            return;
        }

        if (completion.Result == SecondaryStorageResult.PersistFailed)
        {
            JournalFailed = true;
            _world.Trace.Event("journal failed", completion.Epoch);
        }
        else if (op.Kind == SecondaryStorageKind.WriteImage)
        {
            // Into the history once it happened. One that failed may have reached the disk's cache
            // all the same (a FUA write is a write, then a flush that can fail), or not at all: it
            // never completed, so a crash state may hold any of its sectors, or none — also after
            // a later flush (the node halts, restarts without a power cut and flushes as it replays
            // the epoch), which makes durable only what completed before it.
            RecordAppliedThrough(op.Record.Epoch, op.Record.Sequence, lastCompleted: done);
        }
        else if (op.Kind == SecondaryStorageKind.MarkApplied && done)
        {
            RecordAppliedThrough(op.Number, long.MaxValue);
            _applyRecords.Remove(op.Number);
        }

        // As the daemon does: only what the host acts on goes back to it.
        if (completion.MattersToHost)
        {
            Host.OnStorageCompleted(completion);
        }

        if (op.Kind == SecondaryStorageKind.MarkApplied && done && !Down)
        {
            CheckRecovered();
            CheckTakeoverDrained();
        }
    }

    /// <summary>I2 once a takeover's drain is over: the image alone now holds exactly what the node served through the overlay.</summary>
    private void CheckTakeoverDrained()
    {
        if (PromotedEpoch >= 0 && Host.TakeoverDrained && !_takeoverDrainChecked)
        {
            _takeoverDrainChecked = true;
            if (GuestCheckpoint.Hash(Image.Contents) != _imageHashAtPromotion)
            {
                _world.Checker.Fail($"I2: the takeover's drain left the image other than the checkpoint {PromotedEpoch} it served through the overlay");
            }
        }
    }

    private static List<MirrorRecord> CopyRecords(EpochLog epoch)
    {
        var records = new List<MirrorRecord>(epoch.Count);
        foreach (BufferedRecord held in epoch.Records)
        {
            records.Add(held.Record with { Payload = held.Record.Payload.ToArray() });
        }

        return records;
    }

    /// <summary>How long the operation takes on its disk: the same model for every operation of a kind.</summary>
    private long ModelledUs(in SecondaryStorageOperation op)
    {
        long now = _world.Clock.Now;
        DiskProfile journal = _world.Scenario.JournalDisk;
        DiskProfile image = _world.Scenario.SecondaryDisk;
        return op.Kind switch
        {
            SecondaryStorageKind.Persist => journal.WriteUs + (long)(op.Epoch!.BufferBytes / 1024.0 * journal.UsPerKiB) + journal.FlushUs
                + _world.Random.Journal.NextInt64(journal.JitterUs + 1) + _world.Faults.ExtraLatency(DiskId.SecondaryJournal, now),
            // Written ahead of its commit, unflushed: the commit's model still counts the whole epoch's bytes.
            SecondaryStorageKind.StageRecord => (long)(op.Record.Payload.Length / 1024.0 * journal.UsPerKiB) + _world.Faults.ExtraLatency(DiskId.SecondaryJournal, now),
            SecondaryStorageKind.WriteImage => image.WriteUs + (long)(op.Record.Request.Length / 1024.0 * image.UsPerKiB) + (op.Record.Request.Fua ? image.FlushUs : 0)
                + _world.Random.SecondaryDisk.NextInt64(image.JitterUs + 1) + _world.Faults.ExtraLatency(DiskId.SecondaryImage, now),
            SecondaryStorageKind.FlushImage => image.FlushUs + _world.Random.SecondaryDisk.NextInt64(image.JitterUs + 1) + _world.Faults.ExtraLatency(DiskId.SecondaryImage, now),
            SecondaryStorageKind.ApplyVm => journal.WriteUs,
            _ => 2 * journal.FlushUs, // the state record: write a new file, sync it, rename it over the old one, sync the directory
        };
    }

    private static SecondaryCutPoint? CutPointOf(in SecondaryStorageOperation op) => op.Kind switch
    {
        SecondaryStorageKind.Persist => SecondaryCutPoint.DuringJournalWrite,
        // Unflushed writes behind the journal's end: a power cut anywhere covers them, and a cut
        // aimed at the journal write belongs in the commit's header and flush.
        SecondaryStorageKind.StageRecord => null,
        SecondaryStorageKind.MarkApplied or SecondaryStorageKind.MarkPromoted => SecondaryCutPoint.DuringStateRecord,
        _ => SecondaryCutPoint.DuringApply,
    };

    private void OnPromoted(long epoch)
    {
        if (IsPromoted)
        {
            // A promoted node restarted, and came back promoted: it must hold the very same
            // checkpoint it took over from.
            if (epoch != PromotedEpoch)
            {
                _world.Checker.Fail($"I2: a promoted node restarted and took over again at checkpoint {epoch}, first promoted at {PromotedEpoch}");
            }

            CheckUnchangedSincePromotion();
            return;
        }

        CheckFencedBeforeAutomaticPromotion();
        PromotedEpoch = epoch;

        // What the node serves from now: the image with the committed epochs still draining laid over it.
        byte[] served = CommittedDisk();
        _imageHashAtPromotion = GuestCheckpoint.Hash(served);
        _world.Promoted(epoch, served, CommittedVm());
    }

    /// <summary>I6 at the end: nothing changed what the promoted node serves since promotion (and the drain changed nothing of it).</summary>
    public void CheckUnchangedSincePromotion()
    {
        if (PromotedEpoch >= 0)
        {
            _world.Checker.StillPromotedState(_imageHashAtPromotion, CommittedDisk());
        }
    }

    /// <summary>The VM state a takeover resumes from: the RAM image and state record, with the committed epochs' snapshots not yet in them.</summary>
    private VmState CommittedVm()
    {
        VmState vm = VmOnDisk(Host.Store!);
        foreach (VmSnapshot snapshot in Host.Takeover?.VmSnapshots ?? [])
        {
            // Those the state record already says are applied are in the RAM image.
            if (snapshot.Epoch > vm.Epoch)
            {
                vm.Apply(snapshot);
            }
        }

        return vm;
    }

    private void CheckRecovered()
    {
        if (_recoveringTo >= 0 && Engine.LastAppliedEpoch == _recoveringTo)
        {
            _world.Checker.RecoveredTo(_recoveringTo, Image.Contents, VmOnDisk(Host.Store!), _recoveringMidResync);
            _recoveringTo = -1;
        }
    }

    /// <summary>The VM state the RAM image and state record hold, read past the disk's faults: the checkers' view.</summary>
    private VmState VmOnDisk(SecondaryStore store)
    {
        int pageSize = _options.PageSize;
        var vm = new VmState(_options.RamBytes, pageSize);
        if (store.AppliedEpoch > 0 && StateDirectory.Peek(SecondaryStore.RamFileName) is { } ram)
        {
            var pages = new VmPage[_options.RamBytes / pageSize];
            for (int i = 0; i < pages.Length; i++)
            {
                pages[i] = new VmPage(i, ram.Contents.Slice(i * pageSize, pageSize).ToArray());
            }

            vm.Apply(new VmSnapshot(store.AppliedEpoch, store.AppliedCpuState, pages));
        }

        return vm;
    }

    /// <summary>The committed image right now: the image with the committed-but-unapplied epochs laid over it.</summary>
    private byte[] CommittedDisk()
    {
        // One buffer for the run: a disk-sized copy per commit would land on the large object heap.
        _committedDisk ??= new byte[Image.Size];
        if (Host.Takeover is { IsOpen: true } takeover)
        {
            // A promoted node's reads: through the takeover's own index, as the new primary reads.
            takeover.Read(new ImageReader(Image), 0, _committedDisk);
            return _committedDisk;
        }

        Image.Contents.CopyTo(_committedDisk);
        Engine.OverlayCommitted(0, _committedDisk);
        return _committedDisk;
    }

    private readonly struct ImageReader(MemoryDisk image) : IImageReader
    {
        public void Read(long offset, Span<byte> destination) => image.Contents.Slice((int)offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// Adds to the apply history the epoch's records up to this one, as the primary recorded them:
    /// its flushes as barriers and its FUA flags, whatever the image is actually given. With
    /// <paramref name="lastCompleted"/> false the last write never completed (it failed, or the
    /// power went while it was under way).
    /// </summary>
    private void RecordAppliedThrough(long epoch, long sequence, bool lastCompleted = true)
    {
        if (_historyCursor.Epoch != epoch)
        {
            _historyCursor = (epoch, 0);
        }

        if (!_applyRecords.TryGetValue(epoch, out List<MirrorRecord>? records))
        {
            return;
        }

        int index = _historyCursor.Index;
        for (; index < records.Count && records[index].Sequence <= sequence; index++)
        {
            MirrorRecord r = records[index];
            if (r.Request.Op == BlockOp.Flush || r.Request.ChangesData)
            {
                _world.Checker.ApplyHistory.Record(r.Request, r.Payload.Span, completed: lastCompleted || r.Sequence != sequence);
            }
        }

        _historyCursor = (epoch, index);
    }
}
