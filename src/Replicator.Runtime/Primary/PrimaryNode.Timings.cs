using Replicator.Protocol.Messages;

namespace Replicator.Runtime.Primary;

/// <summary>
/// The phases of each checkpoint's commit: when the drain ended and the checkpoint reached the
/// link here, and what the secondary reported in its acknowledgement. Event loop only.
/// </summary>
public sealed partial class PrimaryNode
{
    private readonly Dictionary<long, (long Drained, long Handed)> _phaseStamps = new();
    private readonly Dictionary<long, AckTimings> _ackTimings = new();

    private void NoteDrained(long epoch) => _phaseStamps[epoch] = (_time.GetTimestamp(), 0);

    private void NoteHandedToLink(long epoch)
    {
        if (_phaseStamps.TryGetValue(epoch, out var stamps))
        {
            _phaseStamps[epoch] = stamps with { Handed = _time.GetTimestamp() };
        }
    }

    private void NoteAckTimings(long epoch, AckTimings? timings)
    {
        if (timings is not null)
        {
            _ackTimings[epoch] = timings;
        }
    }

    private CheckpointTiming WithPhases(CheckpointTiming timing, long started)
    {
        _phaseStamps.Remove(timing.Epoch, out var stamps);
        _ackTimings.Remove(timing.Epoch, out AckTimings? secondary);
        if (stamps.Drained == 0 || stamps.Handed == 0)
        {
            return timing with { Secondary = secondary };
        }

        TimeSpan drain = _time.GetElapsedTime(started, stamps.Drained);
        TimeSpan capture = _time.GetElapsedTime(stamps.Drained, stamps.Handed);
        TimeSpan onSecondary = secondary is null
            ? TimeSpan.Zero
            : TimeSpan.FromMicroseconds(secondary.QueueMicroseconds + secondary.JournalWriteMicroseconds + secondary.JournalFlushMicroseconds + secondary.AckMicroseconds);
        TimeSpan link = timing.Commit - drain - capture - onSecondary;
        return timing with { Drain = drain, Capture = capture, Link = link < TimeSpan.Zero ? TimeSpan.Zero : link, Secondary = secondary };
    }
}
