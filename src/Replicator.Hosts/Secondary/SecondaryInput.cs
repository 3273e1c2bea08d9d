using System.Buffers;
using Replicator.Core.Epochs;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// One frame from a primary, decoded off the receive buffer by <see cref="SecondaryFrameDecoder"/>
/// (a mirror's payload, or a checkpoint's whole body, copied into pooled memory: <see cref="Owner"/>),
/// ready for the host's loop. A struct, so queueing a mirrored write allocates nothing.
/// </summary>
public readonly record struct SecondaryInput(
    SecondaryInputKind Kind,
    MirrorRecord Record = default,
    IMemoryOwner<byte>? Owner = null,
    HelloMessage? Hello = null,
    ResyncStartMessage? ResyncStart = null,
    string? Reason = null,
    long ReceivedAt = 0,
    long Epoch = 0,
    long Probe = 0,
    Protocol.Witness.WitnessAnswerMessage? WitnessAnswer = null,
    ReadOnlyMemory<byte> CheckpointBody = default,
    long LinkSequence = 0);

/// <summary>What a primary's frame was.</summary>
public enum SecondaryInputKind
{
    Hello,
    Mirror,

    /// <summary>
    /// A checkpoint, still as it crossed the link: <see cref="SecondaryInput.CheckpointBody"/>, in
    /// <see cref="SecondaryInput.Owner"/>'s memory, which the host decodes with its link's page
    /// decoder (<see cref="SecondaryFrameDecoder.DecodeCheckpoint"/>).
    /// </summary>
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
