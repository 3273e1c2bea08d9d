using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Benchmarks.Support;

/// <summary>
/// Secondary actions that do no I/O: they only note which epochs the engine asked to journal and
/// to mark applied, so <see cref="Complete"/> can report those done straight away, as a runtime
/// with an infinitely fast disk would. Nothing here allocates once the queues have grown.
/// </summary>
internal sealed class NoOpSecondaryActions : ISecondaryActions
{
    private readonly Queue<long> _toPersist = new(1024);
    private readonly Queue<long> _toMarkApplied = new(1024);

    /// <summary>The last epoch handed to <see cref="PersistEpoch"/>, kept whole (the engine does not release it until applied).</summary>
    public EpochLog? LastPersistRequest { get; private set; }

    /// <summary>When false, journal requests are noted but never reported done (the journal benchmark keeps the epoch).</summary>
    public bool ReportPersisted { get; set; } = true;

    public void PersistEpoch(EpochLog epoch)
    {
        LastPersistRequest = epoch;
        if (ReportPersisted)
        {
            _toPersist.Enqueue(epoch.Epoch);
        }
    }

    public void AcknowledgeEpoch(long epoch)
    {
    }

    public void WriteImage(in MirrorRecord record)
    {
    }

    public void FlushImage()
    {
    }

    public void ApplyVmSnapshot(VmSnapshot snapshot)
    {
    }

    public void MarkApplied(long epoch, long lastSequence) => _toMarkApplied.Enqueue(epoch);

    public void ReturnCredit(long bytes)
    {
    }

    public void RejectEpoch(long epoch, string reason) =>
        throw new InvalidOperationException($"the benchmark's epoch {epoch} was refused: {reason}");

    public void TakingOver(long epoch, CommittedOverlay overlay)
    {
    }

    public void Promoted(long epoch)
    {
    }

    /// <summary>Reports every journal write and state record asked for as durable, until the engine asks for nothing more.</summary>
    public void Complete(SecondaryEngine engine)
    {
        while (true)
        {
            if (_toPersist.TryDequeue(out long persisted))
            {
                engine.OnEpochPersisted(persisted);
            }
            else if (_toMarkApplied.TryDequeue(out long applied))
            {
                engine.OnApplied(applied);
            }
            else
            {
                return;
            }
        }
    }
}
