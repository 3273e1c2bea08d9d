namespace Replicator.Fuzz.Tests.Infrastructure;

internal static class Hex
{
    /// <summary>Hex of the whole input up to <paramref name="limit"/> bytes, then how much was left out.</summary>
    public static string Of(ReadOnlySpan<byte> bytes, int limit = 4096) =>
        bytes.Length <= limit
            ? Convert.ToHexString(bytes)
            : $"{Convert.ToHexString(bytes[..limit])}... ({bytes.Length - limit} more bytes)";
}
