namespace Replicator.Core.Primary;

/// <summary>
/// Holds the guest's outputs until the epoch that produced them is committed on the secondary
/// (I5, Remus's output commit). Outputs are released in the order they were produced.
/// </summary>
internal sealed class OutputGate
{
    private readonly Queue<(long Epoch, long OutputId)> _held = new();

    public int HeldCount => _held.Count;

    public void Hold(long outputId, long epoch) => _held.Enqueue((epoch, outputId));

    /// <summary>Releases every output produced in an epoch up to and including <paramref name="committedEpoch"/>.</summary>
    public void ReleaseThrough(long committedEpoch, IPrimaryActions actions)
    {
        while (_held.TryPeek(out var next) && next.Epoch <= committedEpoch)
        {
            _held.Dequeue();
            actions.ReleaseOutput(next.OutputId, protectedByReplica: true);
        }
    }

    public void ReleaseAllUnprotected(IPrimaryActions actions)
    {
        while (_held.TryDequeue(out var next))
        {
            actions.ReleaseOutput(next.OutputId, protectedByReplica: false);
        }
    }
}
