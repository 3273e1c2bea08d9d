using System.Globalization;
using MessagePack;

namespace Replicator.Protocol.Generations;

/// <summary>
/// One data generation: a random 64-bit id, never zero, drawn when a node began writing data that no
/// other node holds, with when and why. Two nodes whose current marks are equal hold the same
/// history of writes (up to the epochs in flight between them).
/// </summary>
[MessagePackObject]
public sealed partial class GenerationMark : IEquatable<GenerationMark>
{
    [Key(0)]
    public long Id { get; set; }

    /// <summary>When it began, as Unix milliseconds on the clock of the node that drew it.</summary>
    [Key(1)]
    public long SinceUnixMilliseconds { get; set; }

    [Key(2)]
    public GenerationCause Cause { get; set; }

    /// <summary>A fresh mark: a random non-zero id, now, for <paramref name="cause"/>.</summary>
    public static GenerationMark Draw(GenerationCause cause, DateTimeOffset now)
    {
        long id;
        do
        {
            id = BitConverter.ToInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(sizeof(long)));
        }
        while (id == 0);

        return new GenerationMark { Id = id, SinceUnixMilliseconds = now.ToUnixTimeMilliseconds(), Cause = cause };
    }

    /// <summary>What an operator reads: "generation 1f2e… (promotion, since 2026-12-01T10:02:03.000Z)".</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"generation {Id:x16} ({CauseText(Cause)}, since {SinceText(SinceUnixMilliseconds)})");

    public bool Equals(GenerationMark? other) => other is not null && other.Id == Id;

    public override bool Equals(object? obj) => Equals(obj as GenerationMark);

    public override int GetHashCode() => Id.GetHashCode();

    public override string ToString() => Describe();

    /// <summary>The time as a date, or as the raw number when a peer sent one no date can hold: it is only ever read, never trusted.</summary>
    private static string SinceText(long unixMilliseconds) =>
        unixMilliseconds is >= MinUnixMilliseconds and <= MaxUnixMilliseconds
            ? DateTimeOffset.FromUnixTimeMilliseconds(unixMilliseconds).ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{unixMilliseconds} ms after 1970, not a valid time");

    private const long MinUnixMilliseconds = -62_135_596_800_000;
    private const long MaxUnixMilliseconds = 253_402_300_799_999;

    private static string CauseText(GenerationCause cause) => cause switch
    {
        GenerationCause.Created => "the pair's data began",
        GenerationCause.UnprotectedWriting => "writes with no secondary following",
        GenerationCause.Promotion => "promotion",
        _ => "cause not said",
    };
}
