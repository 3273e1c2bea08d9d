using Microsoft.Extensions.Logging;

namespace Replicator.Runtime.Secondary;

/// <summary>What only the shell sees: its socket. The host logs its own decisions.</summary>
public sealed partial class SecondaryNode
{
    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "listening for the primary on {EndPoint}")]
        public static partial void Listening(ILogger logger, string endPoint);

        [LoggerMessage(102, LogLevel.Error, "the link from {EndPoint} failed unexpectedly: {Error}")]
        public static partial void LinkFailed(ILogger logger, string endPoint, string error);

        [LoggerMessage(103, LogLevel.Warning, "refused a connection from {EndPoint}: {Reason} ({HeldBack} more refusals not logged since the last report)")]
        public static partial void ConnectionRefused(ILogger logger, string endPoint, string reason, int heldBack);
    }
}
