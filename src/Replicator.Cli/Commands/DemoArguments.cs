using Replicator.Runtime.Links;

namespace Replicator.Cli.Commands;

/// <summary>The demo's fixed shape, and the plain "--name value" parsing its internal commands use.</summary>
internal static class DemoArguments
{
    public const int MaxRequestBytes = 64 * 1024;

    public static Dictionary<string, string> Parse(string[] args)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            result[args[i]] = args[i + 1];
        }

        return result;
    }

    /// <summary>The internal commands' link: <c>--link-key PATH</c>, or <c>--insecure-link true</c> said explicitly; neither fails validation.</summary>
    public static (LinkKey? Key, bool Insecure) Link(Dictionary<string, string> arguments)
    {
        ArgumentNullException.ThrowIfNull(arguments);
        LinkKey? key = arguments.TryGetValue("--link-key", out string? path) ? LinkKey.Load(path) : null;
        return (key, arguments.GetValueOrDefault("--insecure-link") == "true");
    }
}
