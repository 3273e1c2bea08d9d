using Replicator.Core.Secondary;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Links;

namespace Replicator.Runtime.Secondary;

/// <summary>A primary coming back: the welcome that tells it what this node holds, and its resync start.</summary>
public sealed partial class SecondaryNode
{
    // A welcome asked for while epochs were still being journalled (event loop only).
    private (TaskCompletionSource<WelcomeMessage> Answered, FrameConnection Link)? _welcomeWaiting;

    // The link the welcome went out on: the only one anything else is sent on (written by the loop).
    private FrameConnection? _welcomed;

    /// <summary>On the event loop: sends a waiting welcome once no epoch is half way into the journal.</summary>
    private void AnswerWaitingWelcome()
    {
        SecondaryEngine engine = _engine!;
        if (_welcomeWaiting is not { } waiting || engine.EpochsBeingCommitted > 0)
        {
            return;
        }

        // A new primary gets as credit only the space free now, and is given back only what it
        // itself used: epochs of an earlier session drain without returning credit.
        _creditOwed = 0;
        ForgetStamps();
        Interlocked.Exchange(ref _autoFailoverStarted, 0);
        var welcome = new WelcomeMessage
        {
            ProtocolVersion = Handshake.ProtocolVersion,
            Identity = LocalIdentity(),
            BufferCapacityBytes = _options.BufferCapacityBytes - engine.BufferedBytes,
            LastCommittedEpoch = engine.LastCommittedEpoch,
            LastCommittedSequence = engine.LastCommittedSequence,
            Role = _store!.State.Role,
        };
        waiting.Link.SendControl(Protocol.Framing.FrameType.Welcome, welcome);
        Volatile.Write(ref _welcomed, waiting.Link);
        _welcomeWaiting = null;
        waiting.Answered.TrySetResult(welcome);
    }

    /// <summary>On the event loop: the primary resyncs this node; a refusal closes its link with the reason.</summary>
    private void OnResyncStart(ResyncStartMessage start, FrameConnection link)
    {
        SecondaryEngine engine = _engine!;
        string? refused = engine.OnResyncStart(start.BaseEpoch, start.FirstEpoch, start.FirstSequence);
        if (refused is null)
        {
            Log.ResyncStarted(_log, start.BaseEpoch, start.Regions, start.Bytes, start.FirstEpoch);
            return;
        }

        Log.ResyncRefused(_log, refused);
        _ = link.CloseAsync($"resync refused: {refused}", fenced: engine.Phase is SecondaryPhase.Promoting or SecondaryPhase.Promoted);
    }
}
