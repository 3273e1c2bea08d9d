using Microsoft.Extensions.Logging;

namespace Replicator.Hosts.Secondary;

public sealed partial class SecondaryHost
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "secondary started on image {Image}: it holds checkpoint {Epoch} of {Generation}; {Unapplied} committed epochs to replay from the journal")]
        public static partial void Started(ILogger logger, string image, long epoch, int unapplied, string generation);

        [LoggerMessage(21, LogLevel.Critical, "forced failover: {Damage}. They are DISCARDED: this node promotes from checkpoint {Epoch}; the journal {Journal} is left unchanged as evidence")]
        public static partial void ForcedFailoverDiscarding(ILogger logger, string damage, long epoch, string journal);

        [LoggerMessage(22, LogLevel.Warning, "forced failover: journal {Journal} verified to its end; nothing is discarded")]
        public static partial void ForcedFailoverNothingDiscarded(ILogger logger, string journal);

        [LoggerMessage(20, LogLevel.Warning, "journal {Journal}: {Count} damaged entries held only checkpoints the image already has and were stepped over; nothing was lost, but the storage under the journal is suspect")]
        public static partial void JournalEntriesSteppedOver(ILogger logger, string journal, int count);

        [LoggerMessage(3, LogLevel.Warning, "refused the link from {EndPoint}: {Reason} ({HeldBack} more refusals since the last one reported)")]
        public static partial void HandshakeRefused(ILogger logger, string endPoint, string reason, int heldBack);

        [LoggerMessage(4, LogLevel.Information, "primary connected from {EndPoint} ({Identity})")]
        public static partial void PrimaryConnected(ILogger logger, string endPoint, string identity);

        [LoggerMessage(5, LogLevel.Error, "closed the link from {EndPoint}: {Reason}; nothing of that frame was committed")]
        public static partial void ProtocolViolation(ILogger logger, string endPoint, string reason);

        [LoggerMessage(6, LogLevel.Warning, "the primary reported an error: {Reason}")]
        public static partial void PeerError(ILogger logger, string reason);

        [LoggerMessage(7, LogLevel.Warning, "no frame from {EndPoint} for {TimeoutMs} ms: the primary is considered lost")]
        public static partial void HeartbeatTimeout(ILogger logger, string endPoint, double timeoutMs);

        [LoggerMessage(8, LogLevel.Warning, "primary lost: {Reason}")]
        public static partial void PrimaryLost(ILogger logger, string reason);

        [LoggerMessage(9, LogLevel.Error, "epoch {Epoch} refused: {Reason}")]
        public static partial void EpochRejected(ILogger logger, long epoch, string reason);

        [LoggerMessage(10, LogLevel.Warning, "promoting ({Reason}); last committed epoch {Epoch}")]
        public static partial void Promoting(ILogger logger, string reason, long epoch);

        [LoggerMessage(11, LogLevel.Warning, "promoted: serving checkpoint {Epoch} (the image, with committed epochs not yet written back read from RAM); writes from here on are {Generation}")]
        public static partial void Promoted(ILogger logger, long epoch, string generation);

        [LoggerMessage(25, LogLevel.Warning, "still promoted after a restart: serving checkpoint {Epoch} (the image, with committed epochs not yet written back read from RAM); writes go on in {Generation}")]
        public static partial void PromotionResumed(ILogger logger, long epoch, string generation);

        [LoggerMessage(68, LogLevel.Information, "taking over at checkpoint {Epoch}: {Records} committed records ({Bytes} bytes) are served from RAM while they drain into the image")]
        public static partial void TakingOver(ILogger logger, long epoch, int records, long bytes);

        [LoggerMessage(69, LogLevel.Information, "takeover drained: the image alone holds checkpoint {Epoch}")]
        public static partial void TakeoverDrained(ILogger logger, long epoch);

        [LoggerMessage(12, LogLevel.Critical, "storage failed: {Reason}")]
        public static partial void StorageFailed(ILogger logger, string reason);

        [LoggerMessage(14, LogLevel.Error, "not promoting ({Reason}): {Refusal}")]
        public static partial void NotPromoting(ILogger logger, string reason, string refusal);

        [LoggerMessage(15, LogLevel.Warning, "{Kind} from checkpoint {BaseEpoch} started: {Regions} regions ({Bytes} bytes) to receive; the image holds no checkpoint until it completes; the new stream begins at epoch {FirstEpoch}")]
        public static partial void ResyncStarted(ILogger logger, string kind, long baseEpoch, int regions, long bytes, long firstEpoch);

        [LoggerMessage(23, LogLevel.Information, "sync complete at epoch {Epoch}: the image holds the primary's data, {Generation}")]
        public static partial void SyncCompleted(ILogger logger, long epoch, string generation);

        [LoggerMessage(24, LogLevel.Warning, "blank secondary taken as equal to the primary's image ({Generation}), as its operator vouched (--skip-initial-sync): nothing is copied")]
        public static partial void TakenAsEqual(ILogger logger, string generation);

        [LoggerMessage(16, LogLevel.Error, "refused the primary's resync: {Reason}")]
        public static partial void ResyncRefused(ILogger logger, string reason);

        [LoggerMessage(17, LogLevel.Warning, "resync complete: the image holds checkpoint {Epoch}, equal to the primary's")]
        public static partial void ResyncComplete(ILogger logger, long epoch);

        [LoggerMessage(26, LogLevel.Warning, "this node was the primary ({Generation}) and starts as a secondary: its image is no checkpoint until the new primary has synced it; {Writes}")]
        public static partial void DemotedFormerPrimary(ILogger logger, string generation, string writes);

        [LoggerMessage(27, LogLevel.Warning, "switchover: the primary handed over at checkpoint {Epoch}; taking over")]
        public static partial void SwitchoverTakingOver(ILogger logger, long epoch);

        [LoggerMessage(28, LogLevel.Error, "switchover at checkpoint {Epoch} refused: {Reason}")]
        public static partial void SwitchoverRefused(ILogger logger, long epoch, string reason);

        [LoggerMessage(60, LogLevel.Warning, "the witness at {Witness} will not vote for this node's promotion, now or later: {Reason}. An operator decides (replicator failover)")]
        public static partial void AutoFailoverRefused(ILogger logger, string witness, string reason);

        [LoggerMessage(65, LogLevel.Warning, "this node asked the witness at {Witness} to vote its promotion into {Proposal} before it stopped: it asks again, and follows no primary until the witness answers")]
        public static partial void ProposalResumed(ILogger logger, string proposal, string witness);

        [LoggerMessage(66, LogLevel.Warning, "this node asked a witness to vote its promotion into {Proposal} before it stopped, and now runs without one: the question is dropped (if it was granted, the old primary learns so from the witness and stops)")]
        public static partial void ProposalDropped(ILogger logger, string proposal);

        [LoggerMessage(67, LogLevel.Warning, "failover asked by the operator: asking the witness at {Witness} for its vote first")]
        public static partial void OperatorFailoverToWitness(ILogger logger, string witness);

        [LoggerMessage(61, LogLevel.Information, "the witness at {Witness} refused a vote for now: {Reason}")]
        public static partial void VoteRefused(ILogger logger, string witness, string reason);

        [LoggerMessage(62, LogLevel.Warning, "fencing the old primary at {Peer}: running {Command}")]
        public static partial void Fencing(ILogger logger, string peer, string command);

        [LoggerMessage(63, LogLevel.Error, "the fence command failed ({Detail}): not promoting; trying again in {Milliseconds} ms")]
        public static partial void FenceFailed(ILogger logger, string detail, double milliseconds);

        [LoggerMessage(64, LogLevel.Information, "the fence command {Outcome} after the witness's vote ({Detail})")]
        public static partial void FenceRanAfterVote(ILogger logger, string outcome, string detail);
    }
}
