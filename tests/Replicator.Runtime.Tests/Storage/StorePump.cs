using Replicator.Hosts.Storage;
using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests.Storage;

/// <summary>Runs a secondary engine's storage actions against a real store, one at a time, in order.</summary>
internal sealed class StorePump(SecondaryStore store) : ISecondaryActions
{
    private readonly Queue<Action> _pending = new();

    public SecondaryEngine Engine { get; set; } = null!;

    public List<long> Acks { get; } = new();

    /// <summary>Runs queued actions; stops after <paramref name="limit"/> of them (a crash point).</summary>
    public void Run(int limit = int.MaxValue)
    {
        for (int i = 0; i < limit && _pending.TryDequeue(out Action? next); i++)
        {
            next();
        }
    }

    public void PersistEpoch(EpochLog epoch) => _pending.Enqueue(() =>
    {
        store.Persist(epoch);
        Engine.OnEpochPersisted(epoch.Epoch);
    });

    public void AcknowledgeEpoch(long epoch) => Acks.Add(epoch);

    public void WriteImage(in MirrorRecord record)
    {
        MirrorRecord copy = record;
        _pending.Enqueue(() => store.WriteImage(copy));
    }

    public void FlushImage() => _pending.Enqueue(store.FlushImage);

    public void ApplyVmSnapshot(VmSnapshot snapshot) => _pending.Enqueue(() => store.ApplyVmSnapshot(snapshot));

    public void MarkApplied(long epoch, long lastSequence) => _pending.Enqueue(() =>
    {
        store.MarkApplied(epoch, lastSequence);
        Engine.OnApplied(epoch);
    });

    public void ReturnCredit(long bytes)
    {
    }

    public void RejectEpoch(long epoch, string reason) => throw new InvalidOperationException($"epoch {epoch} rejected: {reason}");

    public void TakingOver(long epoch, CommittedOverlay overlay)
    {
    }

    public void Promoted(long epoch)
    {
    }
}
