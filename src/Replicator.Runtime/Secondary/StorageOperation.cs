using Replicator.Core.Epochs;
using Replicator.Core.Secondary;
using Replicator.Core.Vm;

namespace Replicator.Runtime.Secondary;

/// <summary>One storage action of the secondary's engine, run in order by the storage loop.</summary>
internal readonly record struct StorageOperation(StorageOperationKind Kind, MirrorRecord Record = default, EpochLog? Epoch = null, VmSnapshot? Snapshot = null, long Number = 0, long LastSequence = 0);

internal enum StorageOperationKind
{
    Persist,
    WriteImage,
    FlushImage,
    ApplyVm,
    MarkApplied,
}
