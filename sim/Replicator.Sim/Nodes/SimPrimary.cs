using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;
using Replicator.Sim.Faults;
using Replicator.Sim.Network;
using Replicator.Sim.Storage;
using Replicator.Sim.World;

namespace Replicator.Sim.Nodes;

/// <summary>
/// The primary host: the synthetic guest, the real <see cref="PrimaryEngine"/>, its image on a
/// simulated disk, the link, and the timers the daemon runs (epoch interval, heartbeats). While
/// paused it does nothing; events due meanwhile wait for it to wake. Once crashed it is gone.
/// </summary>
internal sealed partial class SimPrimary : IPrimaryActions, ILinkEndpoint
{
    private readonly SimWorld _world;
    private readonly Dictionary<long, GuestRequest> _requests = new();
    private readonly Dictionary<long, long> _outputEpochs = new();
    private LinkSender? _link;
    private long _nextOutputId = 1;
    private long _lastHeardAt;
    private bool _initialWelcomeDue;
    private PrimaryCrashPoint? _crashWhen;

    public SimPrimary(SimWorld world, SimDisk disk)
    {
        _world = world;
        Disk = disk;
        Guest = world.Guest;
        Engine = new PrimaryEngine(
            new PrimaryOptions
            {
                Geometry = world.Scenario.Guest.Geometry,
                SecondaryBufferBytes = world.Scenario.SecondaryBufferBytes,
                MaxUnacknowledgedCheckpoints = world.Scenario.MaxUnacknowledgedCheckpoints,
                Plant = world.Scenario.Plant,
            },
            this);
    }

    public PrimaryEngine Engine { get; }

    public SyntheticGuest Guest { get; }

    public SimDisk Disk { get; }

    public bool Crashed { get; private set; }

    public long PausedUntil { get; private set; }

    public bool IsReachable => !Crashed;

    public bool IsPaused => _world.Clock.Now < PausedUntil;

    public bool LinkOpen => _link is { Connection.IsOpen: true };

    /// <summary>The highest epoch of any output released as protected by the replica.</summary>
    public long HighestProtectedOutputEpoch { get; private set; }

    /// <summary>The pair this primary protects, as its hello says.</summary>
    private PairIdentity Identity() => new()
    {
        PairId = SimIdentity.PairId,
        ImageBytes = _world.Scenario.Guest.DiskBytes,
        BlockSize = SimIdentity.BlockSize,
        MaxRequestBytes = _world.Scenario.Guest.MaxWriteBytes,
        Generation = 0,
    };

    private HelloMessage Hello() => new() { ProtocolVersion = Handshake.ProtocolVersion, Identity = Identity() };

    public void Start(SimConnection connection)
    {
        _link = new LinkSender(_world.Network, connection, toSecondary: true);
        _link.Control(FrameType.Hello, Hello());
        _initialWelcomeDue = true;
        _lastHeardAt = _world.Clock.Now;
        ScheduleGuest();
        _world.Clock.After(_world.Scenario.EpochUs, EpochTick);
        _world.Clock.After(_world.Scenario.HeartbeatUs, HeartbeatTick);
    }

    /// <summary>Crashes at the next point of this kind in the checkpoint cycle (at once for mid-epoch).</summary>
    public void CrashAt(PrimaryCrashPoint point)
    {
        if (point == PrimaryCrashPoint.MidEpoch)
        {
            Crash(processKilled: true);
            return;
        }

        _crashWhen = point;
        // If the cycle never reaches that point (replication already degraded), crash anyway.
        _world.Clock.After(5 * _world.Scenario.EpochUs, () => Crash(processKilled: true));
    }

    /// <summary>The primary dies: a killed process's socket is closed by its kernel; a lost host just goes silent.</summary>
    public void Crash(bool processKilled)
    {
        if (Crashed)
        {
            return;
        }

        Crashed = true;
        Disk.AbandonInFlight();
        _world.Trace.Event("primary crash", Engine.CurrentEpoch, Engine.LastAcknowledgedEpoch);
        if (processKilled && _link is not null)
        {
            _world.Network.CloseAfterInFlight(_link.Connection, "the primary's process died");
        }
    }

    public void Pause(long duration)
    {
        PausedUntil = Math.Max(PausedUntil, _world.Clock.Now + duration);
        _world.Trace.Event("primary paused", duration);
    }

    /// <summary>Runs an event on this host: dropped if it crashed, deferred while it is paused.</summary>
    private void OnHost(Action action)
    {
        if (Crashed)
        {
            return;
        }

        if (IsPaused)
        {
            _world.Clock.At(PausedUntil, () => OnHost(action));
            return;
        }

        action();
    }

    private void ScheduleGuest() => _world.Clock.After(1 + _world.Random.Guest.NextInt64(2 * _world.Scenario.ThinkUs), () => OnHost(GuestTick));

    private void GuestTick()
    {
        if (_world.Clock.Now >= _world.Scenario.DurationUs)
        {
            return;
        }

        if (!Guest.IsPaused && Engine.InFlightCount + Engine.QueuedCount < _world.Scenario.QueueDepth)
        {
            GuestRequest request = Guest.NextRequest();
            _requests.Add(request.Id, request);
            string? refused = Engine.Submit(request.Id, request.Request, request.Payload);
            if (refused is not null)
            {
                _world.Checker.Fail($"the synthetic guest's request {request.Id} was refused: {refused}");
            }

            if (_world.Random.Guest.NextDouble() < _world.Scenario.OutputProbability)
            {
                long id = _nextOutputId++;
                _outputEpochs.Add(id, Engine.CurrentEpoch);
                Engine.SubmitOutput(id);
            }
        }

        ScheduleGuest();
    }

    private void EpochTick()
    {
        OnHost(() => Engine.RequestCheckpoint(CheckpointTrigger.Interval));
        if (!Crashed)
        {
            _world.Clock.After(_world.Scenario.EpochUs, EpochTick);
        }
    }

    private void HeartbeatTick()
    {
        OnHost(() =>
        {
            if (!LinkOpen)
            {
                return;
            }

            _link!.Control(FrameType.Heartbeat, new HeartbeatMessage { Epoch = Engine.CurrentEpoch });
            if (_world.Clock.Now - _lastHeardAt > _world.Scenario.HeartbeatTimeoutUs)
            {
                _world.Network.Close(_link.Connection, "the primary heard nothing from the secondary", this);
                Engine.OnSecondaryLost("heartbeats from the secondary stopped");
            }
        });
        if (!Crashed)
        {
            _world.Clock.After(_world.Scenario.HeartbeatUs, HeartbeatTick);
        }
    }

    public void OnFrame(SimConnection connection, in Frame frame)
    {
        Frame copy = frame;
        OnHost(() => Receive(connection, copy));
    }

    private void Receive(SimConnection connection, Frame frame)
    {
        if (_pending is not null && connection == _pending.Connection)
        {
            ReceiveHandshake(connection, frame);
            return;
        }

        if (_link is null || connection != _link.Connection || !connection.IsOpen)
        {
            return; // a link already retired: its stream ended
        }

        _lastHeardAt = _world.Clock.Now;
        try
        {
            switch (frame.Type)
            {
                case FrameType.Ack:
                    Engine.OnCheckpointAcknowledged(ControlCodec.Decode<AckMessage>(frame, FrameType.Ack).Epoch);
                    break;
                case FrameType.Credit:
                    Engine.OnCreditReturned(ControlCodec.Decode<CreditMessage>(frame, FrameType.Credit).Bytes);
                    break;
                case FrameType.Reject:
                    RejectMessage reject = ControlCodec.Decode<RejectMessage>(frame, FrameType.Reject);
                    Engine.OnEpochRejected(reject.Epoch, reject.Reason);
                    break;
                case FrameType.Heartbeat:
                    break;
                case FrameType.Error:
                    ErrorMessage error = ControlCodec.Decode<ErrorMessage>(frame, FrameType.Error);
                    if (error.Fenced)
                    {
                        // I6: the secondary will never follow this primary again (as the daemon's host decides).
                        Fenced = true;
                        _world.Trace.Event("fenced");
                    }

                    throw new ProtocolViolationException($"the secondary closed the link: {error.Reason}");
                case FrameType.Welcome when _initialWelcomeDue:
                    // The first link starts at the pair's beginning: the welcome must say so.
                    _initialWelcomeDue = false;
                    WelcomeMessage welcome = ControlCodec.Decode<WelcomeMessage>(frame, FrameType.Welcome);
                    if (Handshake.CheckWelcome(welcome, Identity()) is { IsAccepted: false } verdict)
                    {
                        throw new ProtocolViolationException($"the secondary's welcome was refused: {verdict.Reason}");
                    }

                    break;
                default:
                    throw new ProtocolViolationException($"unexpected {frame.Type} frame from the secondary");
            }
        }
        catch (ProtocolViolationException e)
        {
            _world.Network.Close(connection, e.Message, this);
            Engine.OnSecondaryLost(e.Message);
        }
    }

    public void OnClosed(SimConnection connection, string reason) => OnHost(() =>
    {
        if (_pending is not null && connection == _pending.Connection)
        {
            _pending = null;
            ScheduleReconnect();
        }
        else if (_link is not null && connection == _link.Connection)
        {
            Engine.OnSecondaryLost($"link closed: {reason}");
        }
    });

    public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) =>
        Disk.Submit(request, payload, ok => OnHost(() => Engine.OnLocalCompleted(requestId, ok)));

    public void SendMirror(in MirrorRecord record)
    {
        _world.Trace.Event("mirror", record.Epoch, record.Sequence);
        if (LinkOpen)
        {
            _link!.Mirror(record);
        }
    }

    public void CompleteGuest(long requestId, RequestStatus status)
    {
        if (_requests.Remove(requestId, out GuestRequest request))
        {
            Guest.OnCompleted(request, status);
        }
    }

    public void PauseGuest()
    {
        Guest.Pause();
        TriggerCrash(PrimaryCrashPoint.DuringDrain);
    }

    public void CaptureVmState(long epoch) =>
        _world.Clock.After(_world.Scenario.CaptureUs, () => OnHost(() => Engine.OnVmCaptured(epoch, Guest.CaptureChanges(epoch))));

    public void ResumeGuest() => Guest.ResumeExecution();

    public void SendCheckpoint(CheckpointRecord checkpoint)
    {
        _world.Trace.Event("checkpoint", checkpoint.Epoch, checkpoint.LastSequence);
        _world.Checker.CheckpointSent(checkpoint);
        if (LinkOpen)
        {
            _link!.Control(FrameType.Checkpoint, CheckpointMessage.From(checkpoint));
        }

        TriggerCrash(PrimaryCrashPoint.AfterCheckpointSent);
    }

    public void CheckpointCommitted(long epoch)
    {
        _world.Trace.Event("acknowledged", epoch);
        TriggerCrash(PrimaryCrashPoint.AfterAcknowledgement);
    }

    public void ReleaseOutput(long outputId, bool protectedByReplica)
    {
        long epoch = _outputEpochs[outputId];
        _outputEpochs.Remove(outputId);
        if (protectedByReplica)
        {
            HighestProtectedOutputEpoch = Math.Max(HighestProtectedOutputEpoch, epoch);
        }

        _world.Checker.OutputReleased(outputId, epoch, protectedByReplica, _world.Secondary.DurableCommittedEpoch, Engine.IsDegraded);
    }

    public void SecondaryDegraded(string reason)
    {
        _world.Trace.Event("degraded", Engine.CurrentEpoch);
        _world.Trace.Note(() => $"primary degraded: {reason}");
        LinkSender? retired = _link;
        _world.Clock.After(0, () => OnHost(() => RetireLink(retired)));
    }

    /// <summary>A crash due at a point of the cycle happens right after the action that marks it, before anything else.</summary>
    private void TriggerCrash(PrimaryCrashPoint point)
    {
        if (_crashWhen == point)
        {
            _crashWhen = null;
            _world.Clock.After(0, () => Crash(processKilled: true));
        }
    }
}
