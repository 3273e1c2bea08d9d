using System.Text.Json;
using System.Text.Json.Serialization;
using Replicator.Core.Storage;

namespace Replicator.Hosts.Storage;

/// <summary>
/// Reads and atomically replaces <c>state.json</c> in a node's state directory (a
/// <see cref="ChecksummedJsonFile"/>), so the simulator's power cuts reach every step of it.
/// </summary>
public sealed class NodeStateStore(IStorageDirectory directory)
{
    public const string FileName = "state.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,

        // Roles read as words ("secondary", "primary"), as the record always has.
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    // Format 2 wraps the record with a checksum over the record's exact bytes: {"state": {...}, "crc32c": "..."}.
    private readonly ChecksummedJsonFile _file = new(directory, FileName, "state", "node state");

    public string Path => _file.Path;

    /// <summary>
    /// The stored state, or null when the node has none yet. A damaged file (its checksum does not
    /// hold, or it does not parse) or one of a newer format is an error naming the file, never a
    /// fresh start.
    /// </summary>
    public NodeState? Load()
    {
        NodeState? state = _file.Load<NodeState>(Json, contents => JsonSerializer.Deserialize<NodeState>(contents, Json)); // format 1: written before the checksum
        if (state is not null && state.FormatVersion is < 1 or > NodeState.CurrentFormatVersion)
        {
            throw new InvalidDataException($"node state {Path} has format {state.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture)}; this build reads formats 1 to {NodeState.CurrentFormatVersion}");
        }

        return state;
    }

    /// <summary>Replaces the state so that a crash leaves the old or the new one, never a mix.</summary>
    public void Save(NodeState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        _file.Save(state with { FormatVersion = NodeState.CurrentFormatVersion }, Json);
    }
}
