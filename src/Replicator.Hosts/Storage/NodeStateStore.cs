using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Replicator.Core.Storage;
using Replicator.Protocol.Framing;

namespace Replicator.Hosts.Storage;

/// <summary>
/// Reads and atomically replaces <c>state.json</c> in a node's state directory: a new file is
/// written and synced, renamed over the old one, and the directory synced. On the block-device
/// seam, so the simulator cuts power between any two of those steps.
/// </summary>
public sealed class NodeStateStore(IStorageDirectory directory)
{
    public const string FileName = "state.json";
    private const string ReplacementName = FileName + ".tmp";

    // Format 2 wraps the record with a checksum over the record's exact bytes: {"state": {...}, "crc32c": "..."}.
    private const string StateProperty = "state";
    private const string ChecksumProperty = "crc32c";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,

        // Roles read as words ("secondary", "primary"), as the record always has.
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public string Path => directory.Describe(FileName);

    /// <summary>
    /// The stored state, or null when the node has none yet. A damaged file (its checksum does not
    /// hold, or it does not parse) or one of a newer format is an error naming the file, never a
    /// fresh start.
    /// </summary>
    public NodeState? Load()
    {
        if (!directory.Exists(FileName))
        {
            return null;
        }

        byte[] contents;
        using (IBlockDevice file = directory.Open(FileName))
        {
            contents = new byte[file.Size];
            file.Read(0, contents);
        }

        NodeState? state;
        try
        {
            using JsonDocument document = JsonDocument.Parse(contents);
            state = document.RootElement.TryGetProperty(StateProperty, out JsonElement record)
                ? Checked(record, document.RootElement)
                : JsonSerializer.Deserialize<NodeState>(contents, Json); // format 1: written before the checksum
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or KeyNotFoundException)
        {
            throw new InvalidDataException($"node state {Path} is damaged: {e.Message}", e);
        }

        if (state is null || state.FormatVersion is < 1 or > NodeState.CurrentFormatVersion)
        {
            throw new InvalidDataException($"node state {Path} has format {state?.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}; this build reads formats 1 to {NodeState.CurrentFormatVersion}");
        }

        return state;
    }

    /// <summary>Replaces the state so that a crash leaves the old or the new one, never a mix.</summary>
    public void Save(NodeState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        byte[] record = JsonSerializer.SerializeToUtf8Bytes(state with { FormatVersion = NodeState.CurrentFormatVersion }, Json);
        var contents = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(contents, new JsonWriterOptions { Indented = true }))
        {
            writer.WriteStartObject();
            writer.WritePropertyName(StateProperty);
            writer.WriteRawValue(record);
            writer.WriteString(ChecksumProperty, Checksum(record));
            writer.WriteEndObject();
        }

        using (IBlockDevice replacement = directory.Create(ReplacementName, 0))
        {
            replacement.Write(0, contents.WrittenSpan);
            replacement.Flush();
        }

        directory.Replace(ReplacementName, FileName);
        directory.Sync();
    }

    /// <summary>The record, once its checksum is found to hold over exactly the bytes it was written as.</summary>
    private NodeState? Checked(JsonElement record, JsonElement root)
    {
        byte[] written = Encoding.UTF8.GetBytes(record.GetRawText());
        string expected = root.GetProperty(ChecksumProperty).GetString() ?? string.Empty;
        string actual = Checksum(written);
        if (!string.Equals(expected, actual, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"node state {Path} is damaged: its checksum is {expected}, its contents give {actual}; nothing was changed (restore the file, or re-create the node)");
        }

        return record.Deserialize<NodeState>(Json);
    }

    private static string Checksum(ReadOnlySpan<byte> record) =>
        new FrameChecksum().Compute(default, record).ToString("x8", System.Globalization.CultureInfo.InvariantCulture);
}
