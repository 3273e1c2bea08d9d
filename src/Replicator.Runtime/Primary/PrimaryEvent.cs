using Replicator.Core.Blocks;
using Replicator.Core.Vm;

namespace Replicator.Runtime.Primary;

/// <summary>One event for the primary's loop. A struct, so a guest write queues without allocating an event object.</summary>
internal readonly record struct PrimaryEvent(
    PrimaryEventKind Kind,
    long Id = 0,
    BlockRequest Request = default,
    ReadOnlyMemory<byte> Payload = default,
    TaskCompletionSource<RequestStatus>? Completion = null,
    bool Succeeded = false,
    VmSnapshot? Snapshot = null,
    string? Reason = null,
    TaskCompletionSource<long>? CheckpointWaiter = null,
    Protocol.Messages.AckTimings? AckTimings = null,
    Links.FrameConnection? Link = null,
    Protocol.Messages.WelcomeMessage? Welcome = null,
    TaskCompletionSource<string?>? Decision = null);

internal enum PrimaryEventKind
{
    Submit,
    LocalCompleted,
    VmCaptured,
    Acknowledged,
    CreditReturned,
    Rejected,
    LinkLost,
    IntervalElapsed,
    CheckpointRequested,
    HeartbeatDue,
    ResyncRead,
    ResyncReadCompleted,

    /// <summary>A new link shook hands; the loop decides whether to resync over it (<see cref="PrimaryEvent.Decision"/>).</summary>
    Reconnected,

    /// <summary>The secondary said it will never follow this primary again.</summary>
    Fenced,
}
