namespace Replicator.Runtime.Storage;

/// <summary>
/// What a node keeps about itself across restarts: which pair and generation it belongs to, its
/// role, and the checkpoint its image and VM state hold (with that checkpoint's vCPU state).
/// </summary>
public sealed record NodeState
{
    public const int CurrentFormatVersion = 1;

    public int FormatVersion { get; init; } = CurrentFormatVersion;

    public required string PairId { get; init; }

    public long Generation { get; init; }

    public required string Role { get; init; }

    /// <summary>The checkpoint the image and RAM image hold (0: the initial copy).</summary>
    public long AppliedEpoch { get; init; }

    public long AppliedLastSequence { get; init; }

    public byte[] CpuState { get; init; } = [];
}
