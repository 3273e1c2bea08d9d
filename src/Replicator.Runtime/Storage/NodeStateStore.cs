using System.Text.Json;

namespace Replicator.Runtime.Storage;

/// <summary>Reads and atomically replaces <c>state.json</c> in a node's state directory.</summary>
public sealed class NodeStateStore(string stateDirectory)
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public string Path { get; } = System.IO.Path.Combine(stateDirectory, "state.json");

    /// <summary>The stored state, or null when the node has none yet. A damaged or newer-format file is an error, not a fresh start.</summary>
    public NodeState? Load()
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        NodeState? state;
        try
        {
            state = JsonSerializer.Deserialize<NodeState>(File.ReadAllBytes(Path), Json);
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
    public void Save(NodeState state) => Durability.WriteAtomically(Path, JsonSerializer.SerializeToUtf8Bytes(state, Json));
}
