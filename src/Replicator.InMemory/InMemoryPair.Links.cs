using Replicator.Core.Epochs;
using Replicator.Hosts.Links;
using Replicator.Hosts.Primary;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.InMemory;

/// <summary>
/// The links' bytes, as the daemons' connections move them: frames encoded at the sending end, cut and
/// checked at the receiving end, decoded by the hosts' own decoders; a close travels behind what was
/// sent before it. A host hears of a link's end as an event after the one in progress, never from
/// inside one of its own actions.
/// </summary>
public sealed partial class InMemoryPair
{
    private readonly Dictionary<LinkId, PairLink> _links = new();
    private readonly PairWire _toSecondary = new();
    private readonly PairWire _toPrimary = new();
    private readonly Queue<Notice> _notices = new();
    private readonly int _maxBodyLength;
    private long _nextLink;

    // The cable is pulled: connections fail until it is back.
    private bool _cableCut;

    /// <summary>The primary's host asked for a connection: it opens, or fails at once.</summary>
    private void Connect()
    {
        _primary.ConnectAsked = false;
        if (_cableCut || _secondary.Down)
        {
            PrimaryHost.OnConnectFailed(_cableCut ? "the link is cut" : "the secondary does not answer");
            return;
        }

        var link = new PairLink(new LinkId(++_nextLink), _maxBodyLength);
        _links.Add(link.Id, link);
        _secondary.Host.OnLinkConnected(link.Id, "the in-memory primary");
        PrimaryHost.OnLinkConnected(link.Id);
    }

    private PairLink? OpenAtPrimary(LinkId id) => _links.TryGetValue(id, out PairLink? link) && link.PrimaryEndOpen ? link : null;

    private PairLink? OpenAtSecondary(LinkId id) => _links.TryGetValue(id, out PairLink? link) && link.SecondaryEndOpen ? link : null;

    private void SendFromPrimary<T>(LinkId id, FrameType type, T message)
    {
        if (OpenAtPrimary(id) is { } link)
        {
            _toSecondary.SendControl(link, link.PrimaryWriter, type, message);
        }
    }

    private void SendMirrorFromPrimary(LinkId id, in MirrorRecord record)
    {
        if (OpenAtPrimary(id) is { } link)
        {
            _toSecondary.SendMirror(link, link.PrimaryWriter, record);
        }
    }

    private void SendFromSecondary<T>(LinkId id, FrameType type, T message)
    {
        if (OpenAtSecondary(id) is { } link)
        {
            _toPrimary.SendControl(link, link.SecondaryWriter, type, message);
        }
    }

    /// <summary>The primary's host closes a link, after a last Error frame when it gives a reason.</summary>
    private void CloseFromPrimary(LinkId id, string? reason)
    {
        if (OpenAtPrimary(id) is not { } link)
        {
            return;
        }

        if (reason is not null)
        {
            _toSecondary.SendControl(link, link.PrimaryWriter, FrameType.Error, new ErrorMessage { Reason = reason });
        }

        EndAtPrimary(link, reason ?? "closed by the primary");
    }

    /// <summary>The secondary's host closes a link, telling the primary why first.</summary>
    private void CloseFromSecondary(LinkId id, string reason, bool fenced)
    {
        if (OpenAtSecondary(id) is not { } link)
        {
            return;
        }

        _toPrimary.SendControl(link, link.SecondaryWriter, FrameType.Error, new ErrorMessage { Reason = reason, Fenced = fenced });
        EndAtSecondary(link, reason);
    }

    /// <summary>The primary's end is closed: nothing more reaches it, the secondary hears the close after what was sent, and so does the primary's host.</summary>
    private void EndAtPrimary(PairLink link, string reason)
    {
        link.PrimaryEndOpen = false;
        _toPrimary.Drop(link);
        _toSecondary.SendClose(link, "the primary closed the link");
        _notices.Enqueue(new Notice(link, ToPrimary: true, reason));
    }

    private void EndAtSecondary(PairLink link, string reason)
    {
        link.SecondaryEndOpen = false;
        _toSecondary.Drop(link);
        _toPrimary.SendClose(link, "the secondary closed the link");
        _notices.Enqueue(new Notice(link, ToPrimary: false, reason));
    }

    private void DeliverToSecondary()
    {
        PairWire.Packet packet = _toSecondary.Take();
        PairLink link = packet.Link;
        if (_secondary.Down || !link.SecondaryEndOpen)
        {
            return; // nobody reads this end any more
        }

        if (packet.Frame is null)
        {
            link.SecondaryEndOpen = false;
            Forget(link);
            _secondary.Host.OnLinkClosed(link.Id, packet.CloseReason!);
            return;
        }

        SecondaryInput input;
        try
        {
            input = SecondaryFrameDecoder.Decode(PairWire.Cut(link.SecondaryReader, packet.Frame), _clock.GetTimestamp());
        }
        catch (ProtocolViolationException e)
        {
            // As the daemon does, a frame that cannot be cut never reaches the host: the link closes.
            // Nothing here damages a frame, so it is a fault of the senders or of this shell.
            Violations.Add($"a frame to the secondary could not be read: {e.Message}");
            CloseFromSecondary(link.Id, e.Message, fenced: false);
            return;
        }

        _secondary.Deliver(link.Id, input);

        // Nothing after a frame that could not be read, or after the primary's last word, is taken from the link.
        if (input.Kind is SecondaryInputKind.Malformed or SecondaryInputKind.PeerError && link.SecondaryEndOpen)
        {
            EndAtSecondary(link, input.Reason ?? "the primary closed the link");
        }
    }

    private void DeliverToPrimary()
    {
        PairWire.Packet packet = _toPrimary.Take();
        PairLink link = packet.Link;
        if (PrimaryCrashed || !link.PrimaryEndOpen)
        {
            return;
        }

        if (packet.Frame is null)
        {
            link.PrimaryEndOpen = false;
            Forget(link);
            PrimaryHost.OnLinkClosed(link.Id, packet.CloseReason!);
            return;
        }

        PrimaryInput input;
        try
        {
            input = PrimaryFrameDecoder.Decode(PairWire.Cut(link.PrimaryReader, packet.Frame));
        }
        catch (ProtocolViolationException e)
        {
            Violations.Add($"a frame to the primary could not be read: {e.Message}");
            input = PrimaryInput.Malformed(e.Message);
        }

        PrimaryHost.OnFrame(link.Id, input);
        if (input.EndsLink && link.PrimaryEndOpen)
        {
            EndAtPrimary(link, input.Reason ?? "the secondary closed the link");
        }
    }

    /// <summary>Each host hears of its links' ends, in order, once the event in progress is over.</summary>
    private void DeliverNotices()
    {
        while (_notices.TryDequeue(out Notice notice))
        {
            Forget(notice.Link);
            if (notice.ToPrimary && !PrimaryCrashed)
            {
                PrimaryHost.OnLinkClosed(notice.Link.Id, notice.Reason);
            }
            else if (!notice.ToPrimary && !_secondary.Down)
            {
                // A host restarted since never knew the link: it ignores the notice.
                _secondary.Host.OnLinkClosed(notice.Link.Id, notice.Reason);
            }
        }
    }

    /// <summary>The cable is pulled: everything on the way is lost, and each end hears its link closed.</summary>
    private void CutLinks(string reason)
    {
        foreach (PairLink link in _links.Values.ToList())
        {
            _toPrimary.Drop(link);
            _toSecondary.Drop(link);
            if (link.PrimaryEndOpen)
            {
                link.PrimaryEndOpen = false;
                _notices.Enqueue(new Notice(link, ToPrimary: true, reason));
            }

            if (link.SecondaryEndOpen)
            {
                link.SecondaryEndOpen = false;
                _notices.Enqueue(new Notice(link, ToPrimary: false, reason));
            }
        }

        DeliverNotices();
    }

    /// <summary>
    /// A node went away: its ends of every link are gone with it, and the other side hears each link
    /// close — after what was already on the way to it, if <paramref name="deliverInFlight"/>.
    /// </summary>
    private void LoseEnds(bool primary, bool deliverInFlight, string reason)
    {
        PairWire toLost = primary ? _toPrimary : _toSecondary;
        PairWire toOther = primary ? _toSecondary : _toPrimary;
        foreach (PairLink link in _links.Values.ToList())
        {
            toLost.Drop(link);
            if (!deliverInFlight)
            {
                toOther.Drop(link);
            }

            if (primary)
            {
                link.PrimaryEndOpen = false;
            }
            else
            {
                link.SecondaryEndOpen = false;
            }

            if (primary ? link.SecondaryEndOpen : link.PrimaryEndOpen)
            {
                toOther.SendClose(link, reason);
            }

            Forget(link);
        }
    }

    /// <summary>A link closed at both ends is gone (its packets still on the way are dropped on arrival).</summary>
    private void Forget(PairLink link)
    {
        if (!link.PrimaryEndOpen && !link.SecondaryEndOpen)
        {
            _links.Remove(link.Id);
        }
    }

    /// <summary>A host is to hear that its end of <see cref="Link"/> closed.</summary>
    private readonly record struct Notice(PairLink Link, bool ToPrimary, string Reason);
}
