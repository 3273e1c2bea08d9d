namespace Replicator.Core.Primary;

/// <summary>
/// How a resync begins: the checkpoint the secondary holds (<see cref="BaseEpoch"/>), where the new
/// stream starts (<see cref="FirstEpoch"/>, <see cref="FirstSequence"/>: numbers never used on the
/// wire before), how much the primary will copy from its own disk, and whether that is all of it.
/// </summary>
public sealed record ResyncPlan(long BaseEpoch, long FirstEpoch, long FirstSequence, int Regions, long Bytes, bool WholeImage = false);
