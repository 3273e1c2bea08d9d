using Replicator.Core.Epochs;

namespace Replicator.Hosts.Storage;

/// <summary>One committed epoch as read back from the journal: its checkpoint and records in sequence order.</summary>
public sealed record JournalEntry(CheckpointRecord Checkpoint, IReadOnlyList<MirrorRecord> Records);
