using System.Buffers;
using System.Text;
using System.Text.Json;
using Replicator.Core.Storage;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Storage;

/// <summary>
/// One JSON record in a state directory, checksummed and replaced atomically: a new file is written
/// and synced, renamed over the old one, and the directory synced, so a crash leaves the old record
/// or the new one, never a mix. The file reads <c>{"&lt;record&gt;": {...}, "crc32c": "..."}</c>, the
/// checksum over the record's exact bytes; a file whose checksum does not hold is refused, naming
/// it, and left as it is. On the block-device seam, so the simulator cuts power between any two steps.
/// </summary>
public sealed class ChecksummedJsonFile(IStorageDirectory directory, string fileName, string recordProperty, string what)
{
    private const string ChecksumProperty = "crc32c";

    private readonly string _replacementName = fileName + ".tmp";

    /// <summary>Where the file is, for messages.</summary>
    public string Path => directory.Describe(fileName);

    /// <summary>
    /// The record, or null when there is no file. A file without the checksummed record is read by
    /// <paramref name="withoutChecksum"/> (an older format), or refused when none is given; a file
    /// that cannot be read as a record is an error naming it.
    /// </summary>
    public T? Load<T>(JsonSerializerOptions json, Func<byte[], T?>? withoutChecksum = null)
        where T : class
    {
        if (!directory.Exists(fileName))
        {
            return null;
        }

        byte[] contents;
        using (IBlockDevice file = directory.Open(fileName))
        {
            contents = new byte[file.Size];
            file.Read(0, contents);
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(contents);
            T? loaded = document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty(recordProperty, out JsonElement record)
                ? Checked<T>(record, document.RootElement, json)
                : withoutChecksum is not null
                ? withoutChecksum(contents)
                : throw new InvalidDataException($"{what} {Path} is damaged: it holds no \"{recordProperty}\" record; nothing was changed");

            // A file that exists is never read as "no record yet": that would be a fresh start over damage.
            return loaded ?? throw new InvalidDataException($"{what} {Path} is damaged: it holds an empty record; nothing was changed");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"{what} {Path} is damaged: {e.Message}", e);
        }
    }

    /// <summary>Replaces the record so that a crash leaves the old or the new one, never a mix.</summary>
    public void Save<T>(T record, JsonSerializerOptions json)
    {
        byte[] serialized = JsonSerializer.SerializeToUtf8Bytes(record, json);
        var contents = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(contents, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WritePropertyName(recordProperty);
            writer.WriteRawValue(serialized);
            writer.WriteString(ChecksumProperty, Checksum(serialized));
            writer.WriteEndObject();
        }

        using (IBlockDevice replacement = directory.Create(_replacementName, 0))
        {
            replacement.Write(0, contents.WrittenSpan);
            replacement.Flush();
        }

        directory.Replace(_replacementName, fileName);
        directory.Sync();
    }

    /// <summary>The record, once its checksum is found to hold over exactly the bytes it was written as.</summary>
    private T? Checked<T>(JsonElement record, JsonElement root, JsonSerializerOptions json)
    {
        byte[] written = Encoding.UTF8.GetBytes(record.GetRawText());
        string expected = root.TryGetProperty(ChecksumProperty, out JsonElement sum) ? sum.GetString() ?? string.Empty : string.Empty;
        string actual = Checksum(written);
        if (!string.Equals(expected, actual, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{what} {Path} is damaged: its checksum is {(expected.Length == 0 ? "missing" : expected)}, its contents give {actual}; nothing was changed (restore the file, or re-create the node)");
        }

        return record.Deserialize<T>(json);
    }

    private static string Checksum(ReadOnlySpan<byte> record) =>
        new FrameChecksum().Compute(default, record).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
}
