namespace Replicator.Core.Primary;

/// <summary>
/// How a resync begins: the checkpoint the secondary holds (<see cref="BaseEpoch"/>), where the new
/// stream starts (<see cref="FirstEpoch"/>, <see cref="FirstSequence"/>: numbers never used on the
/// wire before), and how much the primary will copy from its own disk.
/// </summary>
public sealed record ResyncPlan(long BaseEpoch, long FirstEpoch, long FirstSequence, int Regions, long Bytes);
