using Replicator.Protocol.Messages;

namespace Replicator.Hosts.Secondary;

/// <summary>
/// What the secondary measures of each commit and sends back with its acknowledgement, so the
/// primary can split its commit latency into phases. Event loop only.
/// </summary>
public sealed partial class SecondaryHost
{
    private readonly Dictionary<long, EpochStamps> _commitStamps = new();
    private long _bufferPeak;
    private long _lastAppliedEpoch;
    private long _lastApplyMicroseconds;

    private void NoteCheckpointReceived(long epoch, long receivedAt) => _commitStamps[epoch] = new EpochStamps(Received: receivedAt);

    private void NotePersisted(long epoch, in EpochStamps journal) =>
        _commitStamps[epoch] = _commitStamps.GetValueOrDefault(epoch) with
        {
            JournalStarted = journal.JournalStarted,
            JournalWritten = journal.JournalWritten,
            JournalSynced = journal.JournalSynced,
        };

    private void NoteBuffered(long bufferedBytes) => _bufferPeak = Math.Max(_bufferPeak, bufferedBytes);

    private void NoteApplied(long epoch, in EpochStamps apply)
    {
        _lastAppliedEpoch = epoch;
        _lastApplyMicroseconds = Microseconds(apply.ApplyStarted, apply.ApplyEnded);
    }

    /// <summary>A new primary: nothing measured for the last one's epochs is sent to it.</summary>
    private void ForgetStamps()
    {
        _commitStamps.Clear();
        _bufferPeak = _engine?.BufferedBytes ?? 0;
    }

    private AckTimings TakeAckTimings(long epoch)
    {
        EpochStamps s = _commitStamps.GetValueOrDefault(epoch);
        long now = _time.GetTimestamp();
        var timings = new AckTimings
        {
            QueueMicroseconds = Microseconds(s.Received, s.JournalStarted),
            JournalWriteMicroseconds = Microseconds(s.JournalStarted, s.JournalWritten),
            JournalFlushMicroseconds = Microseconds(s.JournalWritten, s.JournalSynced),
            AckMicroseconds = Microseconds(s.JournalSynced, now),
            BufferPeakBytes = _bufferPeak,
            AppliedEpoch = _lastAppliedEpoch,
            ApplyMicroseconds = _lastApplyMicroseconds,
        };

        // Acknowledgements go out in epoch order: anything at or below this one is done with.
        foreach (long done in _commitStamps.Keys.Where(e => e <= epoch).ToList())
        {
            _commitStamps.Remove(done);
        }

        _bufferPeak = _engine?.BufferedBytes ?? 0;
        return timings;
    }

    private long Microseconds(long from, long to) =>
        from == 0 || to == 0 || to < from ? 0 : (long)_time.GetElapsedTime(from, to).TotalMicroseconds;
}
