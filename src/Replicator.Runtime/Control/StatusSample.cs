using System.Text.Json.Nodes;

namespace Replicator.Runtime.Control;

/// <summary>One look at a node: the role it runs in and its status (null while it starts or changes role).</summary>
public readonly record struct StatusSample(string Role, JsonObject? State);
