using Microsoft.Extensions.Logging;
using Replicator.Runtime.Links;

namespace Replicator.Cli.Hosting;

/// <summary>The line each daemon logs at start about its replication link: what protects it, or a warning that nothing does.</summary>
internal static partial class LinkLog
{
    public static void Report(ILogger log, LinkKey? key)
    {
        if (key is null)
        {
            Insecure(log, LinkTransport.Describe(key));
        }
        else
        {
            Secure(log, LinkTransport.Describe(key));
        }
    }

    [LoggerMessage(20, LogLevel.Information, "{Link}")]
    private static partial void Secure(ILogger logger, string link);

    [LoggerMessage(21, LogLevel.Warning, "{Link}")]
    private static partial void Insecure(ILogger logger, string link);
}
