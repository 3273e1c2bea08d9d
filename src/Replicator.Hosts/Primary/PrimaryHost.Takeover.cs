using Replicator.Core.Blocks;
using Replicator.Core.Secondary;

namespace Replicator.Hosts.Primary;

/// <summary>
/// A primary that starts in a promoted node while the committed epochs drain into its image: it
/// serves at once, but a guest write that overlaps a committed record not yet durable in the image
/// alone waits for the drain. Until then a restart replays those records from the journal, and a
/// replay must never land on a write this node acknowledged; writes elsewhere go straight on.
/// </summary>
public sealed partial class PrimaryHost
{
    private readonly List<HeldForTakeover> _heldForTakeover = new();

    /// <summary>Guest writes waiting for the takeover's drain (on the host's loop only).</summary>
    public int WritesHeldForTakeover => _heldForTakeover.Count;

    /// <summary>Whether the image is still taking the committed epochs of this node's takeover.</summary>
    public bool TakeoverDraining => _options.Takeover is { IsOpen: true };

    /// <summary>The shell saw the takeover's overlay close: the drain is durable, and the writes that waited go to the disk.</summary>
    public void OnTakeoverDrained()
    {
        if (_heldForTakeover.Count == 0)
        {
            return;
        }

        Log.TakeoverWritesReleased(_log, _heldForTakeover.Count);
        HeldForTakeover[] released = [.. _heldForTakeover];
        _heldForTakeover.Clear();
        foreach (HeldForTakeover held in released)
        {
            IssueLocal(held.RequestId, held.Request, held.Payload);
        }
    }

    /// <summary>True when the request must wait for the takeover's drain; it is then held here.</summary>
    private bool HeldByTakeover(long requestId, in BlockRequest request, ReadOnlyMemory<byte> payload)
    {
        if (!request.ChangesData || _options.Takeover is not { } takeover || !takeover.Overlaps(request.Offset, request.Length))
        {
            return false;
        }

        _heldForTakeover.Add(new HeldForTakeover(requestId, request, payload));
        return true;
    }

    private readonly record struct HeldForTakeover(long RequestId, BlockRequest Request, ReadOnlyMemory<byte> Payload);
}
