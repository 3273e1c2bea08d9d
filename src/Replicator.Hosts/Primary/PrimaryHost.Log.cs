using Microsoft.Extensions.Logging;

namespace Replicator.Hosts.Primary;

public sealed partial class PrimaryHost
{
    private static partial class Log
    {
        [LoggerMessage(21, LogLevel.Warning, "the guest is not protected: {State}: {Reason}")]
        public static partial void ProtectionLost(ILogger logger, PairProtection state, string reason);

        [LoggerMessage(22, LogLevel.Information, "protected again (was {Before})")]
        public static partial void ProtectionRestored(ILogger logger, PairProtection before);

        [LoggerMessage(1, LogLevel.Information, "connected to the secondary at {Peer}: it holds checkpoint {Epoch}, buffer bound {BufferBytes} bytes")]
        public static partial void Connected(ILogger logger, string peer, long epoch, long bufferBytes);

        [LoggerMessage(2, LogLevel.Warning, "refused a guest {Op} at {Offset}+{Length}: {Reason}")]
        public static partial void RequestRefused(ILogger logger, string op, long offset, int length, string reason);

        [LoggerMessage(3, LogLevel.Error, "local {Op} at {Offset}+{Length} failed: {Reason}")]
        public static partial void LocalIoFailed(ILogger logger, string op, long offset, int length, string reason);

        [LoggerMessage(4, LogLevel.Error, "closed the link to the secondary: {Reason}")]
        public static partial void ProtocolViolation(ILogger logger, string reason);

        [LoggerMessage(5, LogLevel.Critical, "replication degraded, the guest runs unprotected: {Reason}")]
        public static partial void Degraded(ILogger logger, string reason);

        [LoggerMessage(6, LogLevel.Information, "reconnecting to the secondary at {Peer}: attempt {Attempt} in {DelayMs} ms")]
        public static partial void Reconnecting(ILogger logger, string peer, int attempt, double delayMs);

        [LoggerMessage(7, LogLevel.Warning, "reconnect attempt {Attempt} failed: {Reason}")]
        public static partial void ReconnectFailed(ILogger logger, int attempt, string reason);

        [LoggerMessage(8, LogLevel.Critical, "not resyncing and no longer reconnecting; replication stays degraded and every guest request fails from now on (I6, one primary): {Reason}")]
        public static partial void Fenced(ILogger logger, string reason);

        [LoggerMessage(9, LogLevel.Warning, "the secondary's answer rules out a resync for now: {Reason}")]
        public static partial void ResyncRefused(ILogger logger, string reason);

        [LoggerMessage(10, LogLevel.Information, "reconnected to the secondary at {Peer}: it holds checkpoint {Epoch}, buffer free {BufferBytes} bytes")]
        public static partial void Reconnected(ILogger logger, string peer, long epoch, long bufferBytes);

        [LoggerMessage(11, LogLevel.Warning, "{Kind} started from checkpoint {BaseEpoch}: {Regions} regions ({Bytes} bytes) to copy while the guest runs; the new stream begins at epoch {FirstEpoch}")]
        public static partial void ResyncStarted(ILogger logger, string kind, long baseEpoch, int regions, long bytes, long firstEpoch);

        [LoggerMessage(23, LogLevel.Information, "this image holds {Generation}")]
        public static partial void Generation(ILogger logger, string generation);

        [LoggerMessage(24, LogLevel.Critical, "started without the secondary ({Reason}): the guest runs unprotected in {Generation}; trying to reach it")]
        public static partial void StartedAlone(ILogger logger, string reason, string generation);

        [LoggerMessage(26, LogLevel.Information, "{Kind} complete at checkpoint {Epoch}: {Bytes} bytes copied in {Seconds:F1} s ({MBps} MB/s)")]
        public static partial void SyncCompleted(ILogger logger, string kind, long epoch, long bytes, double seconds, string mbps);

        [LoggerMessage(27, LogLevel.Critical, "failing every guest request: {Reason}")]
        public static partial void GuestWritesFailed(ILogger logger, string reason);

        [LoggerMessage(25, LogLevel.Warning, "copying the whole image: {Reason}")]
        public static partial void WholeImageInstead(ILogger logger, string reason);

        [LoggerMessage(12, LogLevel.Warning, "resync complete: the pair is protected again at checkpoint {Epoch}")]
        public static partial void ProtectedAgain(ILogger logger, long epoch);

        [LoggerMessage(13, LogLevel.Error, "reading the local image for the resync at {Offset}+{Length} failed: {Reason}")]
        public static partial void ResyncReadFailed(ILogger logger, long offset, int length, string reason);

        [LoggerMessage(20, LogLevel.Warning, "replication is off: serving {Image} with no secondary; the guest's writes are not protected")]
        public static partial void RunningUnreplicated(ILogger logger, string image);

        [LoggerMessage(28, LogLevel.Information, "dirty log restored: {Regions} regions ({Bytes} bytes) may differ from the secondary's checkpoint {Epoch} or later (after a crash: {AfterCrash})")]
        public static partial void DirtyLogRestored(ILogger logger, int regions, long bytes, long epoch, bool afterCrash);

        [LoggerMessage(29, LogLevel.Information, "a new dirty log was started: {Reason}")]
        public static partial void DirtyLogNew(ILogger logger, string reason);

        [LoggerMessage(30, LogLevel.Error, "the dirty log could not be written ({Reason}): it is no longer trusted; after a crash the whole image will be copied to the secondary")]
        public static partial void DirtyLogFailed(ILogger logger, string reason);

        [LoggerMessage(31, LogLevel.Information, "verify started: comparing {Bytes} bytes with the secondary while the guest runs (repair: {Repair})")]
        public static partial void VerifyStarted(ILogger logger, long bytes, bool repair);

        [LoggerMessage(32, LogLevel.Warning, "verify found {Blocks} blocks that differ: copying their regions to the secondary")]
        public static partial void RepairStarted(ILogger logger, int blocks);

        [LoggerMessage(33, LogLevel.Information, "verify complete: {Bytes} bytes compared, {Blocks} blocks differed (repaired: {Repaired}) in {Seconds:F1} s ({MBps} MB/s)")]
        public static partial void VerifyCompleted(ILogger logger, long bytes, long blocks, bool repaired, double seconds, double mbps);

        [LoggerMessage(34, LogLevel.Error, "verify failed: {Reason}")]
        public static partial void VerifyFailed(ILogger logger, string reason);

        [LoggerMessage(35, LogLevel.Information, "sync rate limit now {MBps} MB/s (0: none)")]
        public static partial void SyncRateSet(ILogger logger, double mbps);

        [LoggerMessage(36, LogLevel.Information, "the sync's checksums found {EqualBytes} bytes already equal on the secondary; {CopiedBytes} bytes were copied")]
        public static partial void FoundEqual(ILogger logger, long equalBytes, long copiedBytes);

        [LoggerMessage(37, LogLevel.Warning, "the secondary was a primary ({Generation}): its own {Ranges} written ranges ({Bytes} bytes) are copied back from this image, with every region written here since the takeover")]
        public static partial void RollingBackFormerPrimary(ILogger logger, int ranges, long bytes, string generation);

        [LoggerMessage(38, LogLevel.Warning, "switchover: checkpoint {Epoch} is acknowledged and no more guest writes are taken; handing over to the secondary at {Peer}")]
        public static partial void HandingOver(ILogger logger, long epoch, string peer);

        [LoggerMessage(39, LogLevel.Warning, "switchover ended: {Outcome}: {Detail}")]
        public static partial void SwitchoverEnded(ILogger logger, string outcome, string detail);

        [LoggerMessage(60, LogLevel.Warning, "no majority (witness {Witness}): guest requests are {Action} until the secondary follows this generation again or the witness grants a lease")]
        public static partial void QuorumLost(ILogger logger, string witness, string action);

        [LoggerMessage(61, LogLevel.Information, "majority back: {Count} held guest answers sent")]
        public static partial void QuorumRegained(ILogger logger, int count);

        [LoggerMessage(62, LogLevel.Warning, "the witness at {Witness} refused a lease: {Reason}")]
        public static partial void WitnessRefusedLease(ILogger logger, string witness, string reason);

        [LoggerMessage(63, LogLevel.Information, "the takeover's drain is durable: {Count} guest writes that overlapped it go to the disk")]
        public static partial void TakeoverWritesReleased(ILogger logger, int count);
    }
}
