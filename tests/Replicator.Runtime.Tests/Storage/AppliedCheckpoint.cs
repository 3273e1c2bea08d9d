using Replicator.Hosts.Storage;
using Replicator.Runtime.Storage;

namespace Replicator.Runtime.Tests.Storage;

/// <summary>
/// What a secondary's state directory says its image and RAM image hold: the takeover's drain
/// record once the node took over (the state record is the new primary's then), the state record before.
/// </summary>
internal sealed record AppliedCheckpoint(long Epoch, byte[] CpuState, bool MidResync, NodeState State)
{
    public static AppliedCheckpoint Read(string stateDirectory)
    {
        var directory = new FileStorageDirectory(stateDirectory);
        NodeState state = new NodeStateStore(directory).Load()!;
        return new TakeoverDrainStore(directory).Load() is { } drain
            ? new AppliedCheckpoint(drain.AppliedEpoch, drain.CpuState, drain.MidResync, state)
            : new AppliedCheckpoint(state.AppliedEpoch, state.CpuState, state.MidResync, state);
    }
}
