using System.Net;
using Microsoft.Extensions.Logging;
using Replicator.Nbd.Protocol;

namespace Replicator.Nbd.Logging;

/// <summary>The server's log messages, source-generated so a disabled level costs no formatting.</summary>
internal static partial class NbdLog
{
    [LoggerMessage(1, LogLevel.Information, "NBD server listening on {EndPoint}: export '{ExportName}', {Size} bytes, flags {Flags}")]
    public static partial void Listening(this ILogger logger, string endPoint, string exportName, long size, NbdTransmissionFlags flags);

    [LoggerMessage(2, LogLevel.Debug, "NBD connection {ConnectionId} from {Remote} accepted")]
    public static partial void Accepted(this ILogger logger, long connectionId, EndPoint? remote);

    [LoggerMessage(3, LogLevel.Information, "NBD connection {ConnectionId} entered transmission on export '{ExportName}' ({How}; structured replies {StructuredReplies}, base:allocation {AllocationContext})")]
    public static partial void Negotiated(this ILogger logger, long connectionId, string exportName, string how, bool structuredReplies, bool allocationContext);

    [LoggerMessage(4, LogLevel.Debug, "NBD connection {ConnectionId} closed: {Reason}")]
    public static partial void Closed(this ILogger logger, long connectionId, string reason);

    [LoggerMessage(5, LogLevel.Warning, "NBD connection {ConnectionId} closed by the server: {Reason}")]
    public static partial void Violation(this ILogger logger, long connectionId, string reason);

    [LoggerMessage(6, LogLevel.Debug, "NBD connection {ConnectionId}: {Command} at {Offset}+{Length} (flags {Flags}) refused with {Error}")]
    public static partial void Refused(this ILogger logger, long connectionId, NbdCommand command, ulong offset, uint length, NbdCommandFlags flags, NbdError error);

    [LoggerMessage(7, LogLevel.Error, "NBD connection {ConnectionId}: {Command} at {Offset}+{Length} failed in the backend; replied {Error}")]
    public static partial void BackendFailed(this ILogger logger, long connectionId, NbdCommand command, ulong offset, uint length, NbdError error, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "NBD connection {ConnectionId} lost while sending a reply")]
    public static partial void SendFailed(this ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(9, LogLevel.Error, "NBD server could not accept a connection ({Reason}); it tries again every {RetryMilliseconds} ms ({HeldBack} more failures since the last report)")]
    public static partial void AcceptFailed(this ILogger logger, string reason, int retryMilliseconds, int heldBack, Exception exception);

    [LoggerMessage(10, LogLevel.Information, "NBD server on {EndPoint} stopping; {Connections} connection(s) finish their requests")]
    public static partial void Stopping(this ILogger logger, string endPoint, int connections);

    [LoggerMessage(11, LogLevel.Warning, "NBD server on {EndPoint} stop was cut short; open connections were aborted")]
    public static partial void StopAborted(this ILogger logger, string endPoint);

    [LoggerMessage(12, LogLevel.Error, "NBD connection {ConnectionId} failed unexpectedly")]
    public static partial void ConnectionFailed(this ILogger logger, long connectionId, Exception exception);

    [LoggerMessage(13, LogLevel.Warning, "NBD connection from {Remote} closed at once: the server's limit of {Limit} open connections is reached ({HeldBack} more closed so since the last report)")]
    public static partial void OverConnectionLimit(this ILogger logger, EndPoint? remote, int limit, int heldBack);

    [LoggerMessage(14, LogLevel.Warning, "NBD connection {ConnectionId} from {Remote} closed: the handshake did not finish within {Timeout} ({HeldBack} more closed so since the last report)")]
    public static partial void NegotiationTimedOut(this ILogger logger, long connectionId, EndPoint? remote, TimeSpan timeout, int heldBack);

    [LoggerMessage(15, LogLevel.Information, "NBD requests not yet answered hold {Bytes} bytes, against the server's limit of {Limit}: reading from clients waits until replies free some ({HeldBack} more waits since the last report)")]
    public static partial void ReadingPaused(this ILogger logger, long bytes, long limit, int heldBack);

    [LoggerMessage(16, LogLevel.Warning, "NBD server on {EndPoint}: {Connections} connection(s) still busy {Timeout} after the stop began (a client not reading its replies, or gone without a word); closed, their replies dropped")]
    public static partial void StopTimedOut(this ILogger logger, string endPoint, int connections, TimeSpan timeout);

    [LoggerMessage(17, LogLevel.Debug, "NBD connection from {Remote} dropped right after accept: {Reason}")]
    public static partial void AdmitFailed(this ILogger logger, EndPoint? remote, string reason);
}
