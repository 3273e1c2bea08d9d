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
}
