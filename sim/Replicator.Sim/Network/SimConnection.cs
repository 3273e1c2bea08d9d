namespace Replicator.Sim.Network;

/// <summary>One connection between the primary and the secondary; once closed it stays closed.</summary>
internal sealed class SimConnection(int id)
{
    public int Id { get; } = id;

    public bool IsOpen { get; private set; } = true;

    public string? CloseReason { get; private set; }

    /// <summary>Frames sent each way: the link sequence numbers of the ones corrupted on purpose are remembered, so accepting one is caught.</summary>
    public HashSet<uint> CorruptedToSecondary { get; } = new();

    public HashSet<uint> CorruptedToPrimary { get; } = new();

    public bool Close(string reason)
    {
        if (!IsOpen)
        {
            return false;
        }

        IsOpen = false;
        CloseReason = reason;
        return true;
    }
}
