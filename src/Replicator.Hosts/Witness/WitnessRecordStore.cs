using System.Text.Json;
using System.Text.Json.Serialization;
using Replicator.Core.Storage;
using Replicator.Hosts.Storage;

namespace Replicator.Hosts.Witness;

/// <summary>
/// The witness's records, one checksummed file per pair (<c>witness-&lt;pair&gt;.json</c>) replaced
/// atomically. A damaged record is refused, naming the file, and never read as a fresh start: a
/// witness that forgot a vote could grant a second promotion of the same generation.
/// </summary>
public sealed class WitnessRecordStore(IStorageDirectory directory)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>Where a pair's record is, for messages.</summary>
    public string PathOf(string pairId) => FileOf(pairId).Path;

    /// <summary>The pair's record, or null when the witness never heard of it. Throws <see cref="InvalidDataException"/> naming a damaged file.</summary>
    public WitnessRecord? Load(string pairId)
    {
        ChecksummedJsonFile file = FileOf(pairId);
        WitnessRecord? record = file.Load<WitnessRecord>(Json);
        if (record is null)
        {
            return null;
        }

        if (record.FormatVersion != WitnessRecord.CurrentFormatVersion || !string.Equals(record.PairId, pairId, StringComparison.Ordinal) || record.Generations?.Problem() is not null)
        {
            throw new InvalidDataException($"witness record {file.Path} cannot be used: format {record.FormatVersion} (this build reads {WitnessRecord.CurrentFormatVersion}), pair '{record.PairId}', {record.Generations?.Problem() ?? "generations readable"}; nothing was changed");
        }

        return record;
    }

    /// <summary>Replaces the pair's record durably; throws <see cref="IOException"/> when it cannot.</summary>
    public void Save(WitnessRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        FileOf(record.PairId).Save(record, Json);
    }

    private ChecksummedJsonFile FileOf(string pairId) => new(directory, $"witness-{pairId}.json", "witness", "witness record");
}
