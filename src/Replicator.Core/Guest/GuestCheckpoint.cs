using System.IO.Hashing;

namespace Replicator.Core.Guest;

/// <summary>
/// What the synthetic guest's disk and VM state were at one checkpoint, byte for byte (or, for
/// old checkpoints, as hashes only).
/// </summary>
public sealed record GuestCheckpoint(long Epoch, ulong DiskHash, ulong RamHash, byte[] CpuState, byte[]? Disk, byte[]? Ram)
{
    public static ulong Hash(ReadOnlySpan<byte> bytes) => XxHash3.HashToUInt64(bytes);

    /// <summary>Null when the given image and RAM equal this checkpoint's; otherwise where they first differ.</summary>
    public string? Compare(ReadOnlySpan<byte> disk, ReadOnlySpan<byte> ram, ReadOnlySpan<byte> cpuState)
    {
        if (Hash(disk) != DiskHash)
        {
            return $"disk differs from checkpoint {Epoch}{FirstDifference(Disk, disk)}";
        }

        if (Hash(ram) != RamHash)
        {
            return $"RAM differs from checkpoint {Epoch}{FirstDifference(Ram, ram)}";
        }

        return cpuState.SequenceEqual(CpuState) ? null : $"vCPU state differs from checkpoint {Epoch}";
    }

    private static string FirstDifference(byte[]? expected, ReadOnlySpan<byte> actual)
    {
        if (expected is null || expected.Length != actual.Length)
        {
            return string.Empty;
        }

        int at = expected.AsSpan().CommonPrefixLength(actual);
        return $" first at byte {at} (sector {at / Blocks.BlockGeometry.SectorSize})";
    }
}
