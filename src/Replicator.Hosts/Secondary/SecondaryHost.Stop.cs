using Replicator.Hosts.Links;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// A clean stop: the node follows no primary any more, and everything committed goes into the image
/// before the shell exits, so the image file alone holds the last checkpoint — nothing committed is
/// left only in the journal, and an operator who compares the two images of a pair stopped cleanly
/// finds them equal.
/// </summary>
public sealed partial class SecondaryHost
{
    private bool _stopping;

    /// <summary>
    /// A stop began and the image holds everything committed: no epoch is half way into the
    /// journal, every committed one is applied, no state-record write is pending, and a promotion
    /// whose checkpoint is settled is recorded. The shell
    /// exits once this holds (or its stop bound runs out: the journal still holds the rest, which
    /// the next start applies).
    /// </summary>
    public bool IsDrained =>
        _stopping && _engine is { } engine && engine.EpochsBeingCommitted == 0 && engine.LastAppliedEpoch >= engine.LastCommittedEpoch && _stateOperationsPending == 0
        && (engine.Takeover is null || PromotedEpoch >= 0);

    /// <summary>
    /// The daemon is stopping: every link closes (epochs not yet sealed can never complete and go, as
    /// at any loss of the primary; sealed ones still commit), new links are refused, and the
    /// committed epochs drain into the image.
    /// </summary>
    public void BeginStop()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        foreach (LinkId link in _links.Keys.ToList())
        {
            CloseLink(link, "the secondary is stopping");
        }
    }
}
