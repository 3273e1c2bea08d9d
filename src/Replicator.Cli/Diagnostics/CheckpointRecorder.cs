using Replicator.Hosts.Primary;
using Replicator.Protocol.Messages;
using Replicator.Runtime.Primary;

namespace Replicator.Cli.Diagnostics;

/// <summary>
/// Collects each acknowledged checkpoint's timings while switched on: commit latency, pause and
/// the phases, and the secondary's buffer peak. Timings arrive on the node's loop; reads come from
/// the bench's thread, hence the lock.
/// </summary>
internal sealed class CheckpointRecorder
{
    /// <summary>The phases in commit-path order, then apply (after the ack, off the commit path).</summary>
    public static readonly string[] PhaseNames = ["drain", "capture", "link", "queue", "journalWrite", "flush", "ack", "apply"];

    private readonly Lock _lock = new();
    private LatencyHistogram _commit = new();
    private LatencyHistogram _pause = new();
    private Dictionary<string, LatencyHistogram> _phases = NewPhases();
    private long _bufferPeak;
    private PageVolume _pages;
    private long _lastApplied;
    private bool _on;

    public void Start()
    {
        lock (_lock)
        {
            _commit = new LatencyHistogram();
            _pause = new LatencyHistogram();
            _phases = NewPhases();
            _bufferPeak = 0;
            _pages = default;
            _on = true;
        }
    }

    public void Stop()
    {
        lock (_lock)
        {
            _on = false;
        }
    }

    public void Record(CheckpointTiming timing)
    {
        lock (_lock)
        {
            if (!_on)
            {
                return;
            }

            _commit.Record(timing.Commit);
            _pause.Record(timing.Pause);
            _pages = new PageVolume(_pages.CapturedBytes + timing.PageBytes, _pages.SentBytes + timing.PageWireBytes);
            _phases["drain"].Record(timing.Drain);
            _phases["capture"].Record(timing.Capture);
            _phases["link"].Record(timing.Link);
            if (timing.Secondary is AckTimings s)
            {
                _phases["queue"].RecordMicroseconds(s.QueueMicroseconds);
                _phases["journalWrite"].RecordMicroseconds(s.JournalWriteMicroseconds);
                _phases["flush"].RecordMicroseconds(s.JournalFlushMicroseconds);
                _phases["ack"].RecordMicroseconds(s.AckMicroseconds);
                _bufferPeak = Math.Max(_bufferPeak, s.BufferPeakBytes);

                // Each apply is reported with every later ack until the next one: count it once.
                if (s.AppliedEpoch > _lastApplied && s.ApplyMicroseconds > 0)
                {
                    _lastApplied = s.AppliedEpoch;
                    _phases["apply"].RecordMicroseconds(s.ApplyMicroseconds);
                }
            }
        }
    }

    public (long Checkpoints, LatencySummary Commit, LatencySummary Pause, Dictionary<string, LatencySummary> Phases, long BufferPeak, PageVolume Pages) Summary() => Summary(reset: false);

    /// <summary>What was recorded since <see cref="Start"/>; with <paramref name="reset"/> recording then starts afresh, no checkpoint lost between.</summary>
    public (long Checkpoints, LatencySummary Commit, LatencySummary Pause, Dictionary<string, LatencySummary> Phases, long BufferPeak, PageVolume Pages) Summary(bool reset)
    {
        lock (_lock)
        {
            var summary = (_commit.Count, _commit.Summary(), _pause.Summary(), _phases.ToDictionary(p => p.Key, p => p.Value.Summary()), _bufferPeak, _pages);
            if (reset)
            {
                Start();
            }

            return summary;
        }
    }

    private static Dictionary<string, LatencyHistogram> NewPhases() => PhaseNames.ToDictionary(n => n, _ => new LatencyHistogram());
}

/// <summary>The RAM pages of the checkpoints recorded: their bytes as captured, and what they took on the link (encoded, if the link agreed on it).</summary>
internal readonly record struct PageVolume(long CapturedBytes, long SentBytes);
