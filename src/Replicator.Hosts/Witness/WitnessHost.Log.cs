using Microsoft.Extensions.Logging;

namespace Replicator.Hosts.Witness;

public sealed partial class WitnessHost
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "closed the connection from {Peer}: {Reason}")]
        public static partial void Malformed(ILogger logger, string peer, string reason);

        [LoggerMessage(2, LogLevel.Information, "closed the connection from {Peer}: it asked nothing for the idle timeout")]
        public static partial void Idle(ILogger logger, string peer);

        [LoggerMessage(3, LogLevel.Information, "pair {PairId}: {Kind} from {Peer} not granted ({Verdict}): {Reason}")]
        public static partial void NotGranted(ILogger logger, string pairId, string kind, string peer, string verdict, string reason);

        [LoggerMessage(4, LogLevel.Warning, "pair {PairId}: voted to promote the secondary holding {From} into {Into}; no lease of the old generation will be granted again")]
        public static partial void VoteGranted(ILogger logger, string pairId, string from, string into);

        [LoggerMessage(5, LogLevel.Information, "pair {PairId}: recorded {Generation}, held by its {Holder}")]
        public static partial void Recorded(ILogger logger, string pairId, string generation, string holder);

        [LoggerMessage(6, LogLevel.Error, "{Reason}")]
        public static partial void RecordFailed(ILogger logger, string reason);
    }
}
