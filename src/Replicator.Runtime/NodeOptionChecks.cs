namespace Replicator.Runtime;

/// <summary>The checks both nodes make on the settings they share, each adding a readable problem.</summary>
internal static class NodeOptionChecks
{
    public static void Common(List<string> problems, string imagePath, string pairId, int blockSize, int maxRequestBytes, long ramBytes, int pageSize, TimeSpan heartbeatInterval, TimeSpan heartbeatTimeout)
    {
        if (!File.Exists(imagePath))
        {
            problems.Add($"image {imagePath} does not exist");
        }

        if (string.IsNullOrWhiteSpace(pairId))
        {
            problems.Add("a pair id is required");
        }

        if (blockSize < 512 || (blockSize & (blockSize - 1)) != 0)
        {
            problems.Add($"block size {blockSize} must be a power of two of at least 512");
        }

        if (maxRequestBytes < blockSize || maxRequestBytes % 512 != 0)
        {
            problems.Add($"largest request {maxRequestBytes} must be a multiple of 512 and at least the block size {blockSize}");
        }

        if (pageSize < 512 || ramBytes <= 0 || ramBytes % pageSize != 0)
        {
            problems.Add($"RAM size {ramBytes} must be a positive multiple of the page size {pageSize}");
        }

        if (heartbeatInterval <= TimeSpan.Zero || heartbeatTimeout <= heartbeatInterval)
        {
            problems.Add($"heartbeat timeout {heartbeatTimeout} must be longer than the interval {heartbeatInterval}");
        }
    }

    /// <summary>A replication link is authenticated unless an operator turned that off by name.</summary>
    public static void Link(List<string> problems, Links.LinkKey? linkKey, bool insecureLink)
    {
        if (linkKey is null && !insecureLink)
        {
            problems.Add("a link key is required: --link-key FILE (make one with replicator keygen --out FILE and copy it to both nodes), or --insecure-link to run the link unauthenticated and unencrypted");
        }
        else if (linkKey is not null && insecureLink)
        {
            problems.Add("--link-key and --insecure-link contradict each other: give one");
        }
    }
}
