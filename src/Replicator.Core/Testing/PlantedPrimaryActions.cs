using Replicator.Core.Blocks;
using Replicator.Core.Epochs;
using Replicator.Core.Primary;

namespace Replicator.Core.Testing;

/// <summary>
/// The primary engine's planted bugs in its checkpoint coordinator, laid over its actions instead of
/// written into the coordinator: the drain and the output commit are the product's code only (and
/// mutation testing measures that code alone). The simulator switches one on through
/// <see cref="PrimaryOptions.Plant"/>. Unlike a driver, this layer is part of the engine and may
/// reach into it (through <see cref="PrimaryEngine.PlantedCaptureNow"/> and
/// <see cref="PrimaryEngine.PlantedReleaseOutputThrough"/>) while one of its calls runs.
/// </summary>
internal sealed class PlantedPrimaryActions : IPrimaryActions
{
    private readonly IPrimaryActions _inner;
    private readonly PlantedBug _plant;
    private readonly PrimaryEngine _engine;

    private PlantedPrimaryActions(IPrimaryActions inner, PlantedBug plant, PrimaryEngine engine)
    {
        _inner = inner;
        _plant = plant;
        _engine = engine;
    }

    /// <summary>The actions the engine uses: <paramref name="actions"/> itself unless a checkpoint plant is on.</summary>
    public static IPrimaryActions Wrap(IPrimaryActions actions, PlantedBug plant, PrimaryEngine engine) =>
        plant is PlantedBug.SkipDrain or PlantedBug.EarlyOutput ? new PlantedPrimaryActions(actions, plant, engine) : actions;

    public void PauseGuest()
    {
        _inner.PauseGuest();
        if (_plant == PlantedBug.SkipDrain && _engine.Phase == PrimaryPhase.Draining && _engine.InFlightCount > 0)
        {
            // Captures at once, with requests still in flight: the checkpoint does not wait for them.
            _engine.PlantedCaptureNow();
        }
    }

    public void CheckpointCommitted(long epoch)
    {
        if (_plant == PlantedBug.EarlyOutput && _engine.Replication == PrimaryReplication.Protected)
        {
            // The output of the epoch after the acknowledged one leaves too.
            _engine.PlantedReleaseOutputThrough(epoch + 1);
        }

        _inner.CheckpointCommitted(epoch);
    }

    public void IssueLocal(long requestId, BlockRequest request, ReadOnlyMemory<byte> payload) => _inner.IssueLocal(requestId, request, payload);

    public void SendMirror(in MirrorRecord record) => _inner.SendMirror(record);

    public void CompleteGuest(long requestId, RequestStatus status) => _inner.CompleteGuest(requestId, status);

    public void CaptureVmState(long epoch) => _inner.CaptureVmState(epoch);

    public void ResumeGuest() => _inner.ResumeGuest();

    public void SendCheckpoint(CheckpointRecord checkpoint) => _inner.SendCheckpoint(checkpoint);

    public void ReleaseOutput(long outputId, bool protectedByReplica) => _inner.ReleaseOutput(outputId, protectedByReplica);

    public void SecondaryDegraded(string reason) => _inner.SecondaryDegraded(reason);

    public void SendResyncStart(ResyncPlan plan) => _inner.SendResyncStart(plan);

    public void ReadForResync(long readId, long offset, int length) => _inner.ReadForResync(readId, offset, length);

    public void CaptureWholeVmState(long epoch) => _inner.CaptureWholeVmState(epoch);

    public void PairProtected(long epoch) => _inner.PairProtected(epoch);
}
