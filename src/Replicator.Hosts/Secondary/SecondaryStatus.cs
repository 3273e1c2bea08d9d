namespace Replicator.Hosts.Secondary;

/// <summary>What <c>replicator status</c> shows for a secondary.</summary>
/// <remarks><see cref="Resync"/> is null unless a resync runs, or an interrupted one left the image mid-resync (then it cannot be promoted).</remarks>
/// <remarks><see cref="Witness"/> says whether the witness is reached (null without one); <see cref="AutoFailoverRefused"/> why the witness will never vote for this node.</remarks>
/// <remarks>
/// <see cref="WritebackBacklogBytes"/> is what committed epochs hold in RAM until written back (records and checkpoints'
/// pages); <see cref="AcknowledgementHeld"/> says which acknowledgement waits for that write-back, and why (null when none does).
/// </remarks>
public sealed record SecondaryStatus(string Phase, long LastCommittedEpoch, long LastAppliedEpoch, long BufferedBytes, long BufferCapacityBytes, string Link, string? Resync = null, string? DataGeneration = null, string? Witness = null, string? AutoFailoverRefused = null, long WritebackBacklogBytes = 0, string? AcknowledgementHeld = null);
