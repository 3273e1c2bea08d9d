using Microsoft.Extensions.Logging;

namespace Replicator.Runtime.Secondary;

public sealed partial class SecondaryNode
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "secondary started on image {Image}: it holds checkpoint {Epoch}; {Unapplied} committed epochs to replay from the journal")]
        public static partial void Started(ILogger logger, string image, long epoch, int unapplied);

        [LoggerMessage(2, LogLevel.Information, "listening for the primary on {EndPoint}")]
        public static partial void Listening(ILogger logger, string endPoint);

        [LoggerMessage(3, LogLevel.Warning, "refused the link from {EndPoint}: {Reason}")]
        public static partial void HandshakeRefused(ILogger logger, string endPoint, string reason);

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

        [LoggerMessage(11, LogLevel.Warning, "promoted: image and VM state hold checkpoint {Epoch}; now generation {Generation}")]
        public static partial void Promoted(ILogger logger, long epoch, long generation);

        [LoggerMessage(13, LogLevel.Error, "the link from {EndPoint} failed unexpectedly: {Error}")]
        public static partial void LinkFailed(ILogger logger, string endPoint, string error);

        [LoggerMessage(12, LogLevel.Critical, "storage failed: {Reason}")]
        public static partial void StorageFailed(ILogger logger, string reason);
    }
}
