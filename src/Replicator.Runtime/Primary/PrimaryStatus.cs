namespace Replicator.Runtime.Primary;

/// <summary>
/// What <c>replicator status</c> shows for a primary. <see cref="Replication"/> is Protected,
/// Degraded or Resyncing; <see cref="ReconnectAttempts"/> counts attempts since the pair was last
/// protected; the resync fields say what the running resync has still to read from the primary's disk.
/// <see cref="Protection"/> is the honest summary (a <c>PairProtection</c>: Protected only while no
/// checkpoint has waited longer than the acknowledgement bound), with <see cref="ProtectionReason"/>
/// saying why when it is anything else; it is as of the last heartbeat tick. <see cref="DataGeneration"/>
/// says which data the image holds (its current data generation, with why and since when).
/// <see cref="Sync"/> describes the latest sync (running or complete) for an operator; the
/// <c>Sync…</c> fields carry the same for scripts (bytes to copy, bytes copied so far, MB/s).
/// With a witness, <see cref="Quorum"/> says why guest requests may be acknowledged (Peer, Witness)
/// or why not (Lost: held or failed; Superseded: never again), with <see cref="HeldAnswers"/>
/// waiting and <see cref="Witness"/> saying whether the witness is reached. <see cref="Takeover"/>
/// says, in a node just promoted, what of the checkpoint it took over is still draining into its image.
/// </summary>
public sealed record PrimaryStatus(
    string Phase, long CurrentEpoch, long LastAcknowledgedEpoch, int UnacknowledgedCheckpoints, int InFlight, int Queued, long CreditAvailable, string Link, string? Degraded,
    string Replication = "Protected", int ReconnectAttempts = 0, long ResyncBytesLeft = 0, int ResyncRegionsLeft = 0,
    string Protection = "Starting", string? ProtectionReason = null, string? DataGeneration = null,
    string? Sync = null, bool SyncWholeImage = false, long SyncBytesTotal = 0, long SyncBytesCopied = 0, double SyncMBps = 0, bool SyncCompleted = false,
    string? Verify = null, double SyncRateLimitMBps = 0, double? SyncSecondsLeft = null, long SyncBytesFoundEqual = 0,
    string Quorum = "NotRequired", string? Witness = null, int HeldAnswers = 0, string? Takeover = null);
