using System.Text.Json;
using System.Text.Json.Serialization;
using Replicator.Core.Storage;

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

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,

        // Roles read as words ("secondary", "primary"), as the record always has.
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    public string Path => directory.Describe(FileName);

    /// <summary>The stored state, or null when the node has none yet. A damaged or newer-format file is an error, not a fresh start.</summary>
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
            state = JsonSerializer.Deserialize<NodeState>(contents, Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"node state {Path} is damaged: {e.Message}", e);
        }

        if (state is null || state.FormatVersion != NodeState.CurrentFormatVersion)
        {
            throw new InvalidDataException($"node state {Path} has format {state?.FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}; this build reads format {NodeState.CurrentFormatVersion}");
        }

        return state;
    }

    /// <summary>Replaces the state so that a crash leaves the old or the new one, never a mix.</summary>
    public void Save(NodeState state)
    {
        byte[] contents = JsonSerializer.SerializeToUtf8Bytes(state, Json);
        using (IBlockDevice replacement = directory.Create(ReplacementName, 0))
        {
            replacement.Write(0, contents);
            replacement.Flush();
        }

        directory.Replace(ReplacementName, FileName);
        directory.Sync();
    }
}
