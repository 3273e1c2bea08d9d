using Replicator.Core.Epochs;
using Replicator.Core.Secondary;

namespace Replicator.Core.Tests.Support;

/// <summary>Hands a secondary an epoch's records and then its checkpoint, as the link would.</summary>
internal static class SecondaryFeeding
{
    /// <summary>Records <paramref name="first"/>… of <paramref name="epoch"/>, then the checkpoint the primary would send for them.</summary>
    public static void Seal(this SecondaryEngine secondary, long epoch, long first, params MirrorRecord[] records) =>
        secondary.Seal(Records.CheckpointFor(epoch, first, first + records.Length - 1, records), records);

    /// <summary>The records, then <paramref name="checkpoint"/> as given.</summary>
    public static void Seal(this SecondaryEngine secondary, CheckpointRecord checkpoint, params MirrorRecord[] records)
    {
        foreach (MirrorRecord record in records)
        {
            secondary.OnMirror(record);
        }

        secondary.OnCheckpoint(checkpoint);
    }
}
