using Replicator.Runtime.Links;

namespace Replicator.Runtime.Tests.Links;

/// <summary>Tests make their own pair keys, as an operator would with <c>replicator keygen</c>.</summary>
internal static class TestLinkKey
{
    public static LinkKey In(string directory, string name = "pair.key")
    {
        string path = Path.Combine(directory, name);
        LinkKey.Generate(path);
        return LinkKey.Load(path);
    }
}
