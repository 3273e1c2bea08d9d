using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Primary;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.InMemory;

public sealed partial class InMemoryPair
{
    /// <summary>
    /// The primary's shell: the guest, the local disk and the timers as the host's actions reach them.
    /// Every action only records what was asked; the pair's scheduler decides when it happens.
    /// </summary>
    private sealed class PrimaryShell(InMemoryPair pair, int maxRequestBytes) : IPrimaryHostActions
    {
        private readonly Dictionary<long, GuestRequest> _requests = new();
        private readonly List<LocalRequest> _issued = new();
        private readonly List<ResyncRead> _reads = new();
        private readonly Queue<DirtyLogOperation> _dirtyLog = new();
        private readonly Dictionary<long, long> _outputEpochs = new();
        private readonly Dictionary<long, WaiterOutcome> _waiters = new();
        private readonly byte[] _readBuffer = new byte[maxRequestBytes];
        private (long Epoch, bool Whole)? _capture;
        private long _nextOutputId = 1;
        private long _nextWaiterId = 1;

        public long RequestBudget { get; set; }

        public int LocalInFlight => _issued.Count;

        public int ResyncReadsInFlight => _reads.Count;

        public int DirtyLogOperations => _dirtyLog.Count;

        public bool CaptureAsked => _capture is not null;

        public bool ConnectAsked { get; set; }

        /// <summary>When the reconnect timer the host set fires (a clock timestamp), or null.</summary>
        public long? ReconnectDue { get; private set; }

        public PrimaryStart? Start { get; private set; }

        public string? DegradedReason { get; private set; }

        public string? FencedReason { get; private set; }

        /// <summary>The last reason the host gave for closing a link.</summary>
        public string? LastCloseReason { get; private set; }

        public List<long> Released { get; } = new();

        public List<long> ProtectedAt { get; } = new();

        public List<ResyncStartMessage> ResyncStarts { get; } = new();

        public long MirroredPayloadBytes { get; private set; }

        public long ResyncBytesRead { get; private set; }

        public bool GuestCanSubmit(int queueDepth) =>
            RequestBudget > 0 && !pair.Guest.IsPaused && pair.PrimaryHost.Engine is { } engine && engine.InFlightCount + engine.QueuedCount < queueDepth;

        public void GuestSubmits(bool withOutput)
        {
            RequestBudget--;
            GuestRequest request = pair.Guest.NextRequest();
            _requests.Add(request.Id, request);
            pair.PrimaryHost.Submit(request.Id, request.Request, request.Payload);
            if (withOutput)
            {
                // The guest runs (it is not paused), so the output belongs to the current epoch.
                long id = _nextOutputId++;
                _outputEpochs.Add(id, pair.Primary.CurrentEpoch);
                pair.PrimaryHost.SubmitOutput(id);
            }
        }

        /// <summary>One request in flight on the local disk completes; which one is the scheduler's pick (the disk does not keep order).</summary>
        public void CompleteLocal(Random scheduler)
        {
            int index = scheduler.Next(_issued.Count);
            LocalRequest done = _issued[index];
            _issued.RemoveAt(index);
            pair.PrimaryDisk.Apply(done.Request, done.Payload.Span);
            pair.PrimaryHost.OnLocalCompleted(done.Id, done.Request, null);
        }

        public void CompleteResyncRead(Random scheduler)
        {
            int index = scheduler.Next(_reads.Count);
            ResyncRead read = _reads[index];
            _reads.RemoveAt(index);
            pair.PrimaryDisk.Read(read.Offset, _readBuffer.AsSpan(0, read.Length));
            ResyncBytesRead += read.Length;
            pair.PrimaryHost.OnResyncReadCompleted(read.Id, read.Offset, _readBuffer.AsMemory(0, read.Length), null);
        }

        /// <summary>The dirty log's next operation runs whole: the image flushed, the log's steps on its file.</summary>
        public void RunDirtyLog()
        {
            DirtyLogOperation operation = _dirtyLog.Dequeue();
            foreach (DirtyLogStep step in operation.Steps)
            {
                if (step.Kind == DirtyLogStepKind.FlushImage)
                {
                    pair.PrimaryDisk.Flush();
                }
                else
                {
                    operation.RunOnLog(step);
                }
            }

            pair.PrimaryHost.OnDirtyLogWritten(operation.Id, null);
        }

        public void Capture()
        {
            (long epoch, bool whole) = _capture!.Value;
            _capture = null;
            pair.PrimaryHost.OnVmCaptured(whole ? pair.Guest.CaptureAll(epoch) : pair.Guest.CaptureChanges(epoch));
        }

        public void FireReconnect()
        {
            ReconnectDue = null;
            pair.PrimaryHost.OnReconnectDue();
        }

        /// <summary>A new id to ask the host for a checkpoint under.</summary>
        public long NewWaiter() => _nextWaiterId++;

        public WaiterOutcome? OutcomeOf(long waiterId) => _waiters.TryGetValue(waiterId, out WaiterOutcome outcome) ? outcome : null;

        public void Connect(TimeSpan timeout) => ConnectAsked = true;

        // The in-memory pair runs two nodes and no witness; its hosts are never given one.
        public void ConnectWitness(TimeSpan timeout) => throw new NotSupportedException("the in-memory pair has no witness");

        public void Send<T>(LinkId link, FrameType type, T message)
        {
            if (message is ResyncStartMessage start && pair.OpenAtPrimary(link) is not null)
            {
                ResyncStarts.Add(start);
            }

            pair.SendFromPrimary(link, type, message);
        }

        public void SendMirror(LinkId link, in MirrorRecord record)
        {
            MirroredPayloadBytes += record.Payload.Length;
            pair.SendMirrorFromPrimary(link, record);
        }

        public void Close(LinkId link, string? reason)
        {
            LastCloseReason = reason ?? LastCloseReason;
            pair.CloseFromPrimary(link, reason);
        }

        public void ScheduleReconnect(TimeSpan delay) => ReconnectDue = pair._clock.After(delay);

        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => _issued.Add(new LocalRequest(requestId, request, payload));

        public void RunDirtyLog(DirtyLogOperation operation) => _dirtyLog.Enqueue(operation);

        public void ReadForResync(long readId, long offset, int length) => _reads.Add(new ResyncRead(readId, offset, length));

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (_requests.Remove(requestId, out GuestRequest request))
            {
                pair.Guest.OnCompleted(request, status);
                if (status != RequestStatus.Ok)
                {
                    pair.Violations.Add($"synthetic guest request {requestId} ended {status}");
                }
            }
        }

        public void PauseGuest() => pair.Guest.Pause();

        public void ResumeGuest() => pair.Guest.ResumeExecution();

        public void CaptureVmState(long epoch, bool whole) => _capture = (epoch, whole);

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
            _outputEpochs.Remove(outputId, out long epoch);
            pair.CheckOutputRelease(outputId, epoch, protectedByReplica);
            Released.Add(outputId);
        }

        public void Started(PrimaryStart start) => Start = start;

        public void ReplicationChanged(PrimaryReplication replication, string? reason)
        {
            if (replication == PrimaryReplication.Degraded)
            {
                DegradedReason ??= reason;
            }
            else if (replication == PrimaryReplication.Protected)
            {
                ProtectedAt.Add(pair.Primary.LastAcknowledgedEpoch);
            }
        }

        public void Fenced(string reason) => FencedReason = reason;

        public void CheckpointCompleted(in CheckpointTiming timing)
        {
            // Timings in virtual time say nothing about the code: not recorded.
        }

        public void CheckpointWaiterCompleted(long waiterId, long epoch) => _waiters[waiterId] = new WaiterOutcome(epoch, null);

        public void CheckpointWaiterFailed(long waiterId, string reason) => _waiters[waiterId] = new WaiterOutcome(-1, reason);

        // The in-memory pair keeps its roles: it never asks for a switchover.
        public void SwitchoverEnded(long waiterId, SwitchoverResult result) => _waiters[waiterId] = new WaiterOutcome(result.Epoch, result.Detail);

        /// <summary>The last verify's report, or why it failed.</summary>
        public (VerifyReport? Report, string? Failure) LastVerify { get; private set; }

        public void VerifyCompleted(long waiterId, VerifyReport report) => LastVerify = (report, null);

        public void VerifyFailed(long waiterId, string reason) => LastVerify = (null, reason);

        private readonly record struct LocalRequest(long Id, BlockRequest Request, ReadOnlyMemory<byte> Payload);

        private readonly record struct ResyncRead(long Id, long Offset, int Length);
    }

    /// <summary>How an explicit checkpoint ended: acknowledged at <see cref="Epoch"/>, or <see cref="Failure"/>.</summary>
    private readonly record struct WaiterOutcome(long Epoch, string? Failure);
}
