using Microsoft.Extensions.Logging;

namespace Replicator.Runtime.Primary;

public sealed partial class PrimaryNode
{
    private static partial class Log
    {
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
    }
}
