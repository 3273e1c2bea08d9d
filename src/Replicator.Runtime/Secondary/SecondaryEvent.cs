using System.Buffers;
using Replicator.Core.Epochs;

namespace Replicator.Runtime.Secondary;

/// <summary>One event for the secondary's loop. A struct, so queueing a mirrored write allocates nothing.</summary>
internal readonly record struct SecondaryEvent(
    SecondaryEventKind Kind,
    MirrorRecord Record = default,
    IMemoryOwner<byte>? Owner = null,
    CheckpointRecord? Checkpoint = null,
    long Epoch = 0,
    string? Reason = null,
    TaskCompletionSource<Protocol.Messages.WelcomeMessage>? Welcome = null,
    EpochStamps Stamps = default,
    Protocol.Messages.ResyncStartMessage? ResyncStart = null,
    Links.FrameConnection? Link = null,
    TaskCompletionSource<string?>? Answer = null);

internal enum SecondaryEventKind
{
    Mirror,
    Checkpoint,
    Persisted,
    PersistFailed,
    Applied,
    StorageFailed,
    Promote,
    LinkClosed,
    Welcome,
    ResyncStart,
}
