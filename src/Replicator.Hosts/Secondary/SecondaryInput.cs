using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// One frame from a primary, decoded off the receive buffer by <see cref="SecondaryFrameDecoder"/>
/// (a mirror's payload copied into pooled memory), ready for the host's loop. A struct, so queueing
/// a mirrored write allocates nothing.
/// </summary>
public readonly record struct SecondaryInput(
    SecondaryInputKind Kind,
    MirrorRecord Record = default,
    IMemoryOwner<byte>? Owner = null,
    CheckpointRecord? Checkpoint = null,
    HelloMessage? Hello = null,
    ResyncStartMessage? ResyncStart = null,
    string? Reason = null,
    long ReceivedAt = 0,
    long Epoch = 0,
    long Probe = 0,
    Protocol.Witness.WitnessAnswerMessage? WitnessAnswer = null,
    CheckpointMessage? EncodedCheckpoint = null);

/// <summary>What a primary's frame was.</summary>
public enum SecondaryInputKind
{
    Hello,
    Mirror,

    /// <summary>A checkpoint: <see cref="SecondaryInput.Checkpoint"/>, or, with its pages encoded, <see cref="SecondaryInput.EncodedCheckpoint"/> for the link's decoder.</summary>
    Checkpoint,
    ResyncStart,
    /// <summary>The primary is alive; <see cref="SecondaryInput.Probe"/> is its lease probe, echoed at once.</summary>
    Heartbeat,

    /// <summary>The primary hands over at the checkpoint <see cref="SecondaryInput.Epoch"/> (a planned switchover).</summary>
    Switchover,

    /// <summary>The witness answered (on its own link): <see cref="SecondaryInput.WitnessAnswer"/>.</summary>
    WitnessAnswer,

    /// <summary>The primary reported an error and is closing (<see cref="SecondaryInput.Reason"/>).</summary>
    PeerError,

    /// <summary>The frame could not be decoded, or a primary does not send it (<see cref="SecondaryInput.Reason"/>).</summary>
    Malformed,
}
