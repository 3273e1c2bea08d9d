using Replicator.Core.Vm;

namespace Replicator.Core.Secondary;

/// <summary>
/// The RAM pages a batch of committed epochs writes into the RAM image: each page once, as the
/// batch's last epoch that dirtied it left it, with the last epoch's vCPU state. A batch is recorded
/// as applied only at its end (<see cref="ISecondaryActions.MarkApplied"/>, after the RAM image is
/// flushed), and a crash before that replays the batch's epochs from the journal, so no earlier
/// version of a page in the batch is ever read: writing it would only cost the disk. A guest rewrites
/// its hot pages every epoch, so a batch of several epochs writes each of them once instead of once
/// per epoch. Reused across batches: in steady state only the batch's page list is allocated.
/// </summary>
internal sealed class WritebackRamPages
{
    private readonly List<EpochLog> _batch = new(16);
    private readonly HashSet<long> _written = new();

    /// <summary>Pages left out of the batches so far, rewritten by a later epoch of their batch (diagnostics and tests).</summary>
    public long Coalesced { get; private set; }

    public void Add(EpochLog log) => _batch.Add(log);

    /// <summary>The batch's snapshot to apply, and the batch emptied.</summary>
    public VmSnapshot Take()
    {
        VmSnapshot last = _batch[^1].Checkpoint!.Snapshot;
        if (_batch.Count == 1)
        {
            _batch.Clear();
            return last;
        }

        // Newest first: the first version of a page met is the one the batch leaves.
        var pages = new List<VmPage>();
        _written.Clear();
        for (int i = _batch.Count - 1; i >= 0; i--)
        {
            foreach (VmPage page in _batch[i].Checkpoint!.Snapshot.Pages)
            {
                if (_written.Add(page.Index))
                {
                    pages.Add(page);
                }
                else
                {
                    Coalesced++;
                }
            }
        }

        _batch.Clear();
        return last with { Pages = pages };
    }
}
