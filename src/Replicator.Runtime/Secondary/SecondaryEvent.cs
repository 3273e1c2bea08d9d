using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;

namespace Replicator.Runtime.Secondary;

/// <summary>One event for the secondary host's loop. A struct, so queueing a mirrored write allocates nothing.</summary>
internal readonly record struct SecondaryEvent(
    SecondaryEventKind Kind,
    LinkId Link = default,
    SecondaryInput Input = default,
    SecondaryStorageCompletion Completion = default,
    string? Text = null,
    TaskCompletionSource<string?>? Answer = null);

internal enum SecondaryEventKind
{
    Connected,
    Input,
    Closed,
    StorageCompleted,
    HeartbeatTick,
    Promote,

    /// <summary>The witness's connection is open (<see cref="SecondaryEvent.Link"/>).</summary>
    WitnessConnected,

    /// <summary>The witness could not be reached (<see cref="SecondaryEvent.Text"/>).</summary>
    WitnessConnectFailed,

    /// <summary>The fence command exited 0 in time; <see cref="SecondaryEvent.Text"/> says how.</summary>
    FenceSucceeded,

    /// <summary>The fence command failed, or outlived its timeout; <see cref="SecondaryEvent.Text"/> says how.</summary>
    FenceFailed,

    /// <summary>A clean stop: the host drains what is committed into the image (<see cref="SecondaryEvent.Answer"/> completes when it has).</summary>
    Stop,
}
