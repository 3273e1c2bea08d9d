using Replicator.Core.Epochs;

namespace Replicator.Core.Secondary;

/// <summary>A record held in the secondary's buffer, with the owner of its pooled payload memory.</summary>
public readonly record struct BufferedRecord(MirrorRecord Record, IDisposable? PayloadOwner);
