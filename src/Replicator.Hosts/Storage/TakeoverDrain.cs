using System.Text.Json;
using Replicator.Core.Storage;

namespace Replicator.Hosts.Storage;

/// <summary>
/// A promoted node's record of the committed epochs it is still writing back, kept apart from the
/// state record because the new primary owns that one from the moment it serves: the checkpoint
/// the promotion took over at, and how far image and RAM image hold it. A restart replays the
/// journal's epochs after <see cref="AppliedEpoch"/> up to <see cref="Epoch"/> — never one beyond
/// it (an append that failed) — and the new primary's writes that overlap them waited for the
/// drain to be durable, so a replay never lands on one of them.
/// </summary>
public sealed record TakeoverDrain
{
    /// <summary>The checkpoint the promotion took over at.</summary>
    public long Epoch { get; init; }

    /// <summary>The last epoch image and RAM image hold durably; the drain is over when it reaches <see cref="Epoch"/>.</summary>
    public long AppliedEpoch { get; init; }

    /// <summary>The last sequence number of <see cref="AppliedEpoch"/>.</summary>
    public long AppliedLastSequence { get; init; }

    /// <summary>Whether <see cref="AppliedEpoch"/> left the image mid-resync.</summary>
    public bool MidResync { get; init; }

    /// <summary>The vCPU state of <see cref="AppliedEpoch"/>.</summary>
    public byte[] CpuState { get; init; } = [];

    /// <summary>Whether the image alone holds the checkpoint taken over at.</summary>
    public bool IsDrained => AppliedEpoch >= Epoch;
}

/// <summary>Reads and atomically replaces <c>takeover-drain.json</c> in a node's state directory.</summary>
public sealed class TakeoverDrainStore(IStorageDirectory directory)
{
    public const string FileName = "takeover-drain.json";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly ChecksummedJsonFile _file = new(directory, FileName, "takeoverDrain", "takeover drain record");

    public string Path => _file.Path;

    /// <summary>The record, or null when the node is not draining a takeover; damage is an error naming the file.</summary>
    public TakeoverDrain? Load() => _file.Load<TakeoverDrain>(Json);

    public void Save(TakeoverDrain drain) => _file.Save(drain, Json);

    /// <summary>Forgets a record no promotion stands behind (the promotion was never recorded, or the node was demoted since).</summary>
    public void Delete()
    {
        if (directory.Exists(FileName))
        {
            directory.Delete(FileName);
            directory.Sync();
        }
    }
}
