using Microsoft.Extensions.Logging;
using Replicator.Runtime.Links;

namespace Replicator.Cli.Hosting;

/// <summary>The lines each daemon logs at start about its ways in: the replication link (what protects it, or a warning that nothing does) and the control socket.</summary>
internal static partial class AccessLog
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

    [LoggerMessage(22, LogLevel.Information, "taking commands on {Path} (owner-only; this user and root)")]
    public static partial void Control(ILogger logger, string path);

    [LoggerMessage(20, LogLevel.Information, "{Link}")]
    private static partial void Secure(ILogger logger, string link);

    [LoggerMessage(21, LogLevel.Warning, "{Link}")]
    private static partial void Insecure(ILogger logger, string link);
}
