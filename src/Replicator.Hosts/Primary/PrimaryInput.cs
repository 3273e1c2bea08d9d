using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Primary;

/// <summary>What a frame from the secondary says, as the primary's host reads it.</summary>
public enum PrimaryInputKind
{
    /// <summary>The answer to the hello: <see cref="PrimaryInput.Welcome"/>.</summary>
    Welcome,

    /// <summary>Epoch <see cref="PrimaryInput.Value"/> and every earlier one are committed.</summary>
    Ack,

    /// <summary><see cref="PrimaryInput.Value"/> bytes of the secondary's buffer are free again.</summary>
    Credit,

    /// <summary>The secondary refused epoch <see cref="PrimaryInput.Value"/> for <see cref="PrimaryInput.Reason"/>.</summary>
    Reject,

    /// <summary>The secondary is alive; <see cref="PrimaryInput.Value"/> echoes the last heartbeat probe it had (0: none), which it promises not to promote for <see cref="PrimaryInput.PromiseMilliseconds"/> after.</summary>
    Heartbeat,

    /// <summary>The secondary's last word before it closes: <see cref="PrimaryInput.Reason"/>, and whether it fences this primary.</summary>
    PeerError,

    /// <summary>A verify record was compared on the secondary: <see cref="PrimaryInput.Verify"/>.</summary>
    VerifyResult,

    /// <summary>The frame could not be read: <see cref="PrimaryInput.Reason"/> says why.</summary>
    Malformed,

    /// <summary>The witness answered (on its own link): <see cref="PrimaryInput.WitnessAnswer"/>.</summary>
    WitnessAnswer,

    /// <summary>A well-formed frame of a type a secondary never sends (<see cref="PrimaryInput.Type"/>).</summary>
    Unexpected,
}

/// <summary>
/// One frame from the secondary, decoded and copied out of the receive buffer (by
/// <see cref="PrimaryFrameDecoder"/>, on the link's receive loop) so the host can take it later on its own loop.
/// A struct: acknowledgements and credit pass without an event object.
/// </summary>
public readonly record struct PrimaryInput(
    PrimaryInputKind Kind,
    FrameType Type = default,
    long LinkSequence = 0,
    long Value = 0,
    string? Reason = null,
    bool Fenced = false,
    AckTimings? Timings = null,
    WelcomeMessage? Welcome = null,
    VerifyResultMessage? Verify = null,
    Protocol.Witness.WitnessAnswerMessage? WitnessAnswer = null,
    int PromiseMilliseconds = 0)
{
    /// <summary>Nothing the secondary sends after this frame is read: the link ends with it.</summary>
    public bool EndsLink => Kind is PrimaryInputKind.PeerError or PrimaryInputKind.Malformed or PrimaryInputKind.Unexpected;

    /// <summary>The receive loop failed to cut a frame (a bad checksum, an oversized body): the shell reports it as this input.</summary>
    public static PrimaryInput Malformed(string reason) => new(PrimaryInputKind.Malformed, Reason: reason);
}
