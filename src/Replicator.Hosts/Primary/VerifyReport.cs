namespace Replicator.Hosts.Primary;

/// <summary>
/// What an online verify found: the bytes compared, the blocks (<see cref="Core.Blocks.VerifyBlocks.BlockBytes"/>
/// each) whose hashes differ between the two images, by byte offset (the first
/// <see cref="MaxListed"/> of them), ranges the primary could not read, and whether a repair then
/// copied the diverged blocks' regions (acknowledged by the secondary at <see cref="Epoch"/>).
/// </summary>
public sealed record VerifyReport(long BytesCompared, long BlocksDiverged, IReadOnlyList<long> DivergedOffsets, long ReadsFailed, bool Repaired, long Epoch, double Seconds)
{
    public const int MaxListed = 1000;

    /// <summary>Bytes compared per second, in MB/s.</summary>
    public double MBps => Seconds > 0 ? Math.Round(BytesCompared / Seconds / 1e6, 1) : 0;

    /// <summary>Both images held the same data everywhere compared, and nothing was left uncompared.</summary>
    public bool Equal => BlocksDiverged == 0 && ReadsFailed == 0;
}
