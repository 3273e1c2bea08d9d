using System.Buffers;
using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Runs;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The secondary host: the real <see cref="SecondaryEngine"/>, its image on a simulated disk, the
/// journal on another, the VM state store and the durable state record, with the engine's image
/// actions run one at a time in order (as the daemon's apply worker does) and journal appends on
/// their own worker. It can lose power or fail and restart from what was durable.
/// </summary>
internal sealed partial class SimSecondary : ISecondaryActions, ILinkEndpoint
{
    private readonly SimWorld _world;
    private readonly SecondaryOptions _options;
    private static readonly PayloadPool Payloads = new();
    private readonly Queue<Work> _work = new();
    private readonly Dictionary<long, List<MirrorRecord>> _applyRecords = new();
    private (long Epoch, int Index) _historyCursor;
    private (long Epoch, long LastSequence, VmState Vm, bool MidResync) _durable;
    private readonly Dictionary<long, bool> _midResync = new();
    private LinkSender? _link;
    private long _creditOwed;
    private bool _working;
    private long _lastHeardAt;
    private long _recoveringTo = -1;
    private bool _recoveringMidResync;
    private SecondaryCutPoint? _cutWhen;
    private long _restartAfter;
    private ulong _imageHashAtPromotion;
    private byte[]? _committedDisk;

    public SimSecondary(SimWorld world, SimDisk image, SimJournal journal)
    {
        _world = world;
        Image = image;
        Journal = journal;
        Scenario scenario = world.Scenario;
        _options = new SecondaryOptions
        {
            Geometry = scenario.Guest.Geometry,
            BufferCapacityBytes = scenario.SecondaryBufferBytes,
            VmPageCount = scenario.Guest.RamPages,
            VmPageSize = scenario.Guest.PageSize,
            Plant = scenario.Plant,
        };
        Vm = new VmState((long)scenario.Guest.RamPages * scenario.Guest.PageSize, scenario.Guest.PageSize);
        _durable = (0, 0, Vm.Clone(), false);
        Engine = new SecondaryEngine(_options, this);
    }

    public SecondaryEngine Engine { get; private set; }

    public SimDisk Image { get; }

    public SimJournal Journal { get; }

    public VmState Vm { get; private set; }

    /// <summary>Off: powered down or its process failed, until it restarts.</summary>
    public bool Down { get; private set; }

    public bool IsReachable => !Down;

    public bool LinkOpen => _link is { Connection.IsOpen: true };

    public bool IsPromoted => Engine.Phase == SecondaryPhase.Promoted;

    /// <summary>The newest epoch this node holds durably: in its journal or its state record.</summary>
    public long DurableCommittedEpoch => Math.Max(_durable.Epoch, Journal.DurableEpoch);

    /// <summary>When promotion completed, the checkpoint the promoted node holds; -1 before.</summary>
    public long PromotedEpoch { get; private set; } = -1;

    public void Start(SimConnection connection)
    {
        _link = new LinkSender(_world.Network, connection, toSecondary: false);
        _lastHeardAt = _world.Clock.Now;
        _world.Clock.After(_world.Scenario.HeartbeatUs, HeartbeatTick);
    }

    /// <summary>
    /// Promotes this node (an operator's command, or heartbeats stopped with auto-failover on): the
    /// old primary is cut off first (I6). Returns why not, when the engine refuses: an image in the
    /// middle of a resync holds no checkpoint to take over from.
    /// </summary>
    public string? Promote(string reason)
    {
        if (Down || Engine.Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted)
        {
            return null;
        }

        string? refusal = Engine.Promote();
        if (refusal is not null)
        {
            _world.Trace.Event("promotion refused", Engine.LastCommittedEpoch);
            _world.Trace.Note(() => $"secondary refused promotion ({reason}): {refusal}");
            return refusal;
        }

        _world.Trace.Event("promote", Engine.LastCommittedEpoch);
        _world.Trace.Note(() => $"secondary promoted: {reason}");
        foreach (LinkSender? link in new[] { _link, _pendingLink })
        {
            if (link is not null)
            {
                _world.Network.Close(link.Connection, "the secondary is being promoted", this);
            }
        }

        return null;
    }

    private void HeartbeatTick()
    {
        if (Down)
        {
            return;
        }

        if (LinkOpen)
        {
            _link!.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = Engine.LastCommittedEpoch });
            if (_world.Clock.Now - _lastHeardAt > _world.Scenario.HeartbeatTimeoutUs)
            {
                _world.Network.Close(_link.Connection, "the secondary heard nothing from the primary", this);
                PrimaryLost();
            }
        }

        _world.Clock.After(_world.Scenario.HeartbeatUs, HeartbeatTick);
    }

    public void OnClosed(SimConnection connection, string reason)
    {
        if (_pendingLink is not null && connection == _pendingLink.Connection)
        {
            _pendingLink = null;
        }
        else if (_link is not null && connection == _link.Connection && !Down)
        {
            PrimaryLost();
        }
    }

    /// <summary>
    /// The link to the primary is gone: its open epochs can never complete, so they go (the daemon
    /// does the same). With auto-failover on, a primary gone for the heartbeat timeout means promotion.
    /// </summary>
    private void PrimaryLost()
    {
        Engine.OnPrimaryLost();
        if (_world.Scenario.AutoFailover)
        {
            _world.Clock.After(_world.Scenario.HeartbeatTimeoutUs, () =>
            {
                if (!Down && !LinkOpen)
                {
                    Promote("the primary is gone and auto-failover is on");
                }
            });
        }
    }

    public void OnFrame(SimConnection connection, in Frame frame)
    {
        if (!Down && _pendingLink is not null && connection == _pendingLink.Connection)
        {
            ReceiveHello(connection, frame);
            return;
        }

        if (Down || _link is null || connection != _link.Connection)
        {
            return;
        }

        _lastHeardAt = _world.Clock.Now;
        try
        {
            MirrorOutcome outcome = MirrorOutcome.Stale;
            switch (frame.Type)
            {
                case FrameType.Mirror:
                    MirrorRecord record = MirrorDecoder.Decode(frame, Payloads, out IMemoryOwner<byte>? owner);
                    long cost = record.BufferCost;
                    outcome = Engine.OnMirror(record, owner);
                    if (outcome == MirrorOutcome.Buffered)
                    {
                        _creditOwed += cost;
                    }

                    break;
                case FrameType.Checkpoint:
                    outcome = Engine.OnCheckpoint(ControlCodec.Decode<CheckpointMessage>(frame, FrameType.Checkpoint).ToRecord());
                    break;
                case FrameType.Heartbeat:
                    return;
                case FrameType.ResyncStart:
                    ResyncStartMessage start = ControlCodec.Decode<ResyncStartMessage>(frame, FrameType.ResyncStart);
                    string? refusal = Engine.OnResyncStart(start.BaseEpoch, start.FirstEpoch, start.FirstSequence);
                    _world.Trace.Event("resync accepted", start.FirstEpoch, refusal is null ? 1 : 0);
                    if (refusal is not null)
                    {
                        _link.Control(FrameType.Error, new ErrorMessage { Reason = refusal });
                        throw new ProtocolViolationException($"resync refused: {refusal}");
                    }

                    return;
                default:
                    throw new ProtocolViolationException($"unexpected {frame.Type} frame from the primary");
            }

            if (outcome == MirrorOutcome.Buffered && Engine.Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted)
            {
                _world.Checker.Fail("I6: a promoted secondary took a frame from the old primary");
            }

            _world.Checker.BufferBound(Engine.BufferedBytes, Engine.BufferCapacityBytes);
        }
        catch (ProtocolViolationException e)
        {
            _world.Network.Close(connection, e.Message, this);
            PrimaryLost();
        }
    }

    public void PersistEpoch(EpochLog epoch)
    {
        CheckpointRecord checkpoint = epoch.Checkpoint!;
        var records = new List<MirrorRecord>(epoch.Count);
        long bytes = 0;
        foreach (BufferedRecord held in epoch.Records)
        {
            records.Add(held.Record with { Payload = held.Record.Payload.ToArray() });
            bytes += held.Record.BufferCost;
        }

        SecondaryEngine engine = Engine;
        Journal.Append(checkpoint, records, bytes, ok =>
        {
            if (Down || engine != Engine)
            {
                return;
            }

            if (!ok)
            {
                _world.Trace.Event("journal failed", checkpoint.Epoch);
                Engine.OnPersistFailed(checkpoint.Epoch, "the journal write failed");
                return;
            }

            _applyRecords[checkpoint.Epoch] = records;
            _midResync[checkpoint.Epoch] = checkpoint.ResyncPending;
            Engine.OnEpochPersisted(checkpoint.Epoch);
            _world.Checker.Committed(checkpoint, records, CommittedDisk(), CommittedVm());
        });
        TriggerCut(SecondaryCutPoint.DuringJournalWrite);
    }

    public void AcknowledgeEpoch(long epoch)
    {
        _world.Trace.Event("ack", epoch);
        if (LinkOpen)
        {
            _link!.Control(FrameType.Ack, new AckMessage { Epoch = epoch });
        }
    }

    /// <summary>
    /// Credit goes back only up to what the current primary's records took: epochs of an earlier
    /// link drain without returning credit to a primary that never spent it (as the daemon does).
    /// </summary>
    public void ReturnCredit(long bytes)
    {
        long owed = Math.Min(bytes, _creditOwed);
        _creditOwed -= owed;
        if (owed > 0 && LinkOpen)
        {
            _link!.Control(FrameType.Credit, new CreditMessage { Bytes = owed });
        }
    }

    public void RejectEpoch(long epoch, string reason)
    {
        _world.Trace.Event("reject", epoch);
        _world.Trace.Note(() => $"secondary rejected epoch {epoch}: {reason}");
        _world.EpochRejected(reason);
        if (LinkOpen)
        {
            _link!.Control(FrameType.Reject, new RejectMessage { Epoch = epoch, Reason = reason });
        }
    }

    public void WriteImage(in MirrorRecord record) => Enqueue(new Work(WorkKind.Write, record, null));

    public void FlushImage() => Enqueue(new Work(WorkKind.Flush, default, null));

    public void ApplyVmSnapshot(VmSnapshot snapshot) => Enqueue(new Work(WorkKind.ApplyVm, default, snapshot));

    public void MarkApplied(long epoch, long lastSequence)
    {
        Enqueue(new Work(WorkKind.MarkApplied, new MirrorRecord(epoch, lastSequence, default, default), null));
    }

    /// <summary>
    /// Adds to the apply history the epoch's records up to this one, as the primary recorded them:
    /// its flushes as barriers and its FUA flags, whatever the image is actually given. Called as
    /// each write completes, so the history holds what the image was given so far.
    /// </summary>
    private void RecordAppliedThrough(long epoch, long sequence)
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
                _world.Checker.ApplyHistory.Record(r.Request, r.Payload.Span);
            }
        }

        _historyCursor = (epoch, index);
    }

    public void Promoted(long epoch)
    {
        PromotedEpoch = epoch;
        _imageHashAtPromotion = GuestCheckpoint.Hash(Image.Memory.Contents);
        _world.Promoted(epoch, Image.Memory.Contents, Vm);
    }

    /// <summary>I6 at the end: nothing changed the promoted node's image since promotion.</summary>
    public void CheckUnchangedSincePromotion()
    {
        if (PromotedEpoch >= 0)
        {
            _world.Checker.StillPromotedState(_imageHashAtPromotion, Image.Memory.Contents);
        }
    }

    /// <summary>The committed state right now: the image with the committed-but-unapplied epochs laid over it, and the VM state likewise.</summary>
    private byte[] CommittedDisk()
    {
        // One buffer for the run: a disk-sized copy per commit would land on the large object heap.
        _committedDisk ??= new byte[Image.Memory.Size];
        Image.Memory.Contents.CopyTo(_committedDisk);
        Engine.OverlayCommitted(0, _committedDisk);
        return _committedDisk;
    }

    private VmState CommittedVm()
    {
        VmState vm = Vm.Clone();
        foreach (var entry in Journal.Entries)
        {
            if (entry.Checkpoint.Epoch > vm.Epoch && entry.Checkpoint.Epoch <= Engine.LastCommittedEpoch)
            {
                vm.Apply(entry.Checkpoint.Snapshot);
            }
        }

        return vm;
    }

    private enum WorkKind
    {
        Write,
        Flush,
        ApplyVm,
        MarkApplied,
    }

    private readonly record struct Work(WorkKind Kind, MirrorRecord Record, VmSnapshot? Snapshot);
}
