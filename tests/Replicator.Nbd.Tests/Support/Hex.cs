namespace Replicator.Nbd.Tests.Support;

/// <summary>Golden bytes written as spaced hex, compared as hex so a failure shows where they differ.</summary>
internal static class Hex
{
    public static string Of(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    public static string Golden(string spaced) => spaced.Replace(" ", "", StringComparison.Ordinal).ToUpperInvariant();
}
