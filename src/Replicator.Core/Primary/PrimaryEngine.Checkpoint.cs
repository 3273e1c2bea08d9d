using Replicator.Core.Epochs;
using Replicator.Core.Vm;

namespace Replicator.Core.Primary;

/// <summary>The checkpoint coordinator: stop admitting, drain, capture, close the epoch, resume.</summary>
public sealed partial class PrimaryEngine
{
    /// <summary>
    /// Asks for a checkpoint. Returns the epoch whose acknowledgement covers every request completed
    /// before this call (wait for <see cref="IPrimaryActions.CheckpointCommitted"/> of it or later),
    /// or <see cref="NoCheckpoint"/> when nothing is mirrored (degraded). During a resync checkpoints
    /// go on as usual; the acknowledgement then means committed, not yet protected.
    /// </summary>
    public long RequestCheckpoint(CheckpointTrigger trigger)
    {
        if (!_mirroring)
        {
            return NoCheckpoint;
        }

        if (Phase != PrimaryPhase.Running || _pausingGuest)
        {
            // The epoch being closed already holds every request completed so far.
            return CurrentEpoch;
        }

        if (_unacknowledged.Count >= _options.MaxUnacknowledgedCheckpoints)
        {
            // Starts when an acknowledgement makes room; until then the guest runs on in this epoch.
            _checkpointWanted = true;
            return CurrentEpoch;
        }

        StartCheckpoint();
        return CurrentEpoch;
    }

    /// <summary>The VM state capture asked for by <see cref="IPrimaryActions.CaptureVmState"/> is done.</summary>
    public void OnVmCaptured(long epoch, VmSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (Phase != PrimaryPhase.Capturing || epoch != CurrentEpoch || snapshot.Epoch != epoch)
        {
            throw new InvalidOperationException($"capture of epoch {epoch} reported while the primary is {Phase} in epoch {CurrentEpoch}");
        }

        if (!_mirroring)
        {
            ResumeAfterCheckpoint();
            return;
        }

        // Drained, so every resync read admitted so far is in this epoch or an earlier one.
        bool resyncPending = Replication == PrimaryReplication.Resyncing && HasResyncWorkLeft;
        bool startsResync = epoch == _resyncFirstEpoch;
        long firstSequence = _epochFirstSequence;
        long lastSequence = _nextSequence - 1;
        ulong digest = _digest.Value;
        if (Replication == PrimaryReplication.Resyncing && !resyncPending && _protectedFromEpoch == 0)
        {
            _protectedFromEpoch = epoch;
        }

        _lastCheckpointSent = epoch;
        _unacknowledged.Enqueue(epoch);
        CurrentEpoch++;
        _epochFirstSequence = _nextSequence;
        _digest.Reset();
        _epochBufferBytes = 0;

        // The guest runs again first: the snapshot was copied while it was paused, so hashing it,
        // serialising it and checksumming its frame happen outside the pause. The checkpoint still
        // leaves before anything of the next epoch (its records follow their local writes) and
        // before a resync start waiting for this boundary.
        ResumeGuest();
        var checkpoint = new CheckpointRecord(epoch, firstSequence, lastSequence, digest, snapshot, snapshot.ComputeDigest())
        {
            StartsResync = startsResync,
            ResyncPending = resyncPending,
        };
        _actions.SendCheckpoint(checkpoint);
        ContinueAfterCheckpoint();
    }

    /// <summary>
    /// The secondary committed <paramref name="epoch"/>. Acknowledgements are cumulative: epochs
    /// commit in order, so this covers every earlier epoch too.
    /// </summary>
    public void OnCheckpointAcknowledged(long epoch)
    {
        if (!_mirroring || epoch <= LastAcknowledgedEpoch)
        {
            return;
        }

        if (!_unacknowledged.Contains(epoch))
        {
            Degrade($"the secondary acknowledged epoch {epoch}, which was never sent");
            return;
        }

        while (_unacknowledged.TryPeek(out long oldest) && oldest <= epoch)
        {
            _unacknowledged.Dequeue();
        }

        LastAcknowledgedEpoch = epoch;
        CompleteResyncIfAcknowledged(epoch);

        // I5: during a resync a committed epoch is not yet a protected one; held output waits for protection.
        if (Replication == PrimaryReplication.Protected)
        {
            _outputs.ReleaseThrough(epoch, _actions);
        }

        _actions.CheckpointCommitted(epoch);
        if (_checkpointWanted && Phase == PrimaryPhase.Running)
        {
            StartCheckpoint();
        }
    }

    /// <summary>
    /// With <see cref="GuestPausesLater"/>: the guest asked to pause by <see cref="IPrimaryActions.PauseGuest"/>
    /// has stopped, and issues no request until it is resumed. The drain begins now.
    /// </summary>
    public void OnGuestPaused()
    {
        if (!_pausingGuest)
        {
            // Paused for a checkpoint this engine did not start (the one that asked was replaced
            // meanwhile): nothing is drained or captured for it, and the guest must not stay paused.
            _actions.ResumeGuest();
            return;
        }

        _pausingGuest = false;
        Phase = PrimaryPhase.Draining;
        if (_inFlight.Count == 0)
        {
            BeginCapture();
        }
    }

    private void StartCheckpoint()
    {
        if (_pausingGuest)
        {
            return;
        }

        _checkpointWanted = false;
        LastCheckpointStarted = CurrentEpoch;
        if (GuestPausesLater)
        {
            // A hypervisor's stop waits for the guest's requests in flight, some of which may not
            // have reached the engine yet: they are still admitted into this epoch until the guest
            // reports paused, and only then does the drain hold new ones back.
            _pausingGuest = true;
            _actions.PauseGuest();
            return;
        }

        Phase = PrimaryPhase.Draining;
        _actions.PauseGuest();
        if (_inFlight.Count == 0)
        {
            BeginCapture();
        }
    }

    private void BeginCapture()
    {
        if (!_mirroring)
        {
            ResumeAfterCheckpoint();
            return;
        }

        Phase = PrimaryPhase.Capturing;
        if (_wholeCaptureDue)
        {
            _wholeCaptureDue = false;
            _actions.CaptureWholeVmState(CurrentEpoch);
        }
        else
        {
            _actions.CaptureVmState(CurrentEpoch);
        }
    }

    private void ResumeAfterCheckpoint()
    {
        ResumeGuest();
        ContinueAfterCheckpoint();
    }

    private void ResumeGuest()
    {
        Phase = PrimaryPhase.Running;
        _actions.ResumeGuest();
    }

    private void ContinueAfterCheckpoint()
    {
        if (_waitingResync is not null)
        {
            // A resync asked for while a checkpoint of the lost link was ending starts now, between epochs.
            StartResync();
        }

        AdmitQueued();
    }
}
