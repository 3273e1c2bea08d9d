using Replicator.Core.Blocks;
using Replicator.Core.Vm;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;

namespace Replicator.Runtime.Primary;

/// <summary>One event for the primary's loop, which hands it to the host. A struct, so a guest write queues without allocating an event object.</summary>
internal readonly record struct PrimaryEvent(
    PrimaryEventKind Kind,
    long Id = 0,
    BlockRequest Request = default,
    ReadOnlyMemory<byte> Payload = default,
    IGuestRequestCompletion? Completion = null,
    string? Reason = null,
    VmSnapshot? Snapshot = null,
    TaskCompletionSource<long>? Waiter = null,
    LinkId Link = default,
    PrimaryInput Input = default,
    TaskCompletionSource<VerifyReport>? VerifyWaiter = null,
    TaskCompletionSource<SwitchoverResult>? SwitchoverWaiter = null);

internal enum PrimaryEventKind
{
    Start,
    Stop,

    /// <summary>The guest asked to pause off the loop has stopped (<see cref="PrimaryNodeOptions.GuestPausesLater"/>).</summary>
    GuestPaused,
    Submit,

    /// <summary>Local I/O work: the resync's read of the primary's own disk.</summary>
    ResyncRead,
    LocalCompleted,
    ResyncReadCompleted,
    VmCaptured,

    /// <summary>The takeover's overlay closed: writes that waited for its drain may go.</summary>
    TakeoverDrained,
    LinkConnected,
    ConnectFailed,

    /// <summary>The witness's connection is open (<see cref="PrimaryEvent.Link"/>).</summary>
    WitnessConnected,

    /// <summary>The witness could not be reached (<see cref="PrimaryEvent.Reason"/>).</summary>
    WitnessConnectFailed,
    Frame,
    LinkClosed,
    HeartbeatDue,
    IntervalElapsed,
    ReconnectDue,
    CheckpointRequested,
    StopCleanly,

    /// <summary>The dirty-log worker ran an operation (<see cref="PrimaryEvent.Reason"/>: why it failed).</summary>
    DirtyLogWritten,

    /// <summary>A verify asked for (<see cref="PrimaryEvent.Id"/> 1: repair what differs).</summary>
    VerifyRequested,

    /// <summary>A planned switchover asked for (the guest quiet): hand the primary role to the secondary.</summary>
    SwitchoverRequested,

    /// <summary>The sync's rate limit changes to <see cref="PrimaryEvent.Id"/> bytes per second (0: none).</summary>
    SyncRateChanged,
}
