using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Guest;
using Replicator.Core.Primary;

namespace Replicator.InMemory;

public sealed partial class InMemoryPair
{
    /// <summary>The primary's surroundings: the guest, the local disk and the link, as the engine's actions reach them.</summary>
    private sealed class PrimarySide(InMemoryPair pair) : IPrimaryActions
    {
        private readonly Dictionary<long, GuestRequest> _requests = new();
        private readonly List<long> _issued = new();
        private readonly Dictionary<long, long> _outputEpochs = new();
        private long _nextOutputId = 1;

        public int IssuedCount => _issued.Count;

        public long? CaptureRequested { get; private set; }

        public string? DegradedReason { get; private set; }

        public List<long> Released { get; } = new();

        public void GuestSubmits(bool withOutput)
        {
            GuestRequest request = pair.Guest.NextRequest();
            _requests.Add(request.Id, request);
            string? refused = pair.Primary.Submit(request.Id, request.Request, request.Payload);
            if (refused is not null)
            {
                pair.Violations.Add($"synthetic guest request {request.Id} refused: {refused}");
            }

            if (withOutput)
            {
                // The guest runs (it is not paused), so the output belongs to the current epoch.
                long id = _nextOutputId++;
                _outputEpochs.Add(id, pair.Primary.CurrentEpoch);
                pair.Primary.SubmitOutput(id);
            }
        }

        public void CompleteOne(Random scheduler)
        {
            int index = scheduler.Next(_issued.Count);
            long id = _issued[index];
            _issued.RemoveAt(index);
            GuestRequest request = _requests[id];
            pair.PrimaryDisk.Apply(request.Request, request.Payload);
            pair.Primary.OnLocalCompleted(id, succeeded: true);
        }

        public void Capture()
        {
            long epoch = CaptureRequested!.Value;
            CaptureRequested = null;
            pair.Primary.OnVmCaptured(epoch, pair.Guest.CaptureChanges(epoch));
        }

        public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => _issued.Add(requestId);

        public void SendMirror(in MirrorRecord record)
        {
            pair.MirroredPayloadBytes += record.Payload.Length;
            pair._toSecondary.Enqueue(new PairMessage.Mirror(record));
        }

        public void CompleteGuest(long requestId, RequestStatus status)
        {
            if (_requests.Remove(requestId, out GuestRequest request))
            {
                pair.Guest.OnCompleted(request, status);
            }
        }

        public void PauseGuest() => pair.Guest.Pause();

        public void CaptureVmState(long epoch) => CaptureRequested = epoch;

        public void ResumeGuest() => pair.Guest.ResumeExecution();

        public void SendCheckpoint(CheckpointRecord checkpoint) => pair._toSecondary.Enqueue(new PairMessage.Checkpoint(checkpoint));

        public void CheckpointCommitted(long epoch)
        {
        }

        public void ReleaseOutput(long outputId, bool protectedByReplica)
        {
            // I5: output leaves only once the epoch that produced it is committed on the secondary.
            long epoch = _outputEpochs[outputId];
            if (protectedByReplica && epoch > pair.Secondary.LastCommittedEpoch)
            {
                pair.Violations.Add($"I5: output {outputId} of epoch {epoch} released while the secondary has committed only {pair.Secondary.LastCommittedEpoch}");
            }

            if (!protectedByReplica && !pair.Primary.IsDegraded)
            {
                pair.Violations.Add($"I5: output {outputId} released unprotected while replication is healthy");
            }

            Released.Add(outputId);
        }

        public void SecondaryDegraded(string reason) => DegradedReason ??= reason;

        // The in-memory pair never reconnects a lost secondary, so no resync ever starts here.
        public void SendResyncStart(ResyncPlan plan) => throw new NotSupportedException("the in-memory pair does not resync");

        public void ReadForResync(long readId, long offset, int length) => throw new NotSupportedException("the in-memory pair does not resync");

        public void CaptureWholeVmState(long epoch) => throw new NotSupportedException("the in-memory pair does not resync");

        public void PairProtected(long epoch) => throw new NotSupportedException("the in-memory pair does not resync");
    }
}
